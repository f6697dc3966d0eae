#pragma once
// RAII owners for the kernel handles of network faults: the loaded BPF object, cgroup links,
// tc filters (netlink; not owned by the process, hence the deadline and the records), and a
// network-namespace switch for the calling thread.
#include <bpf/libbpf.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "experiments/result.hpp"
#include "netfault.h"  // the skeleton refers to these structs
#include "netfault.skel.h"

namespace rebound {

// Routes libbpf's own messages into rebound's log (once per process).
void forward_libbpf_log();

struct SkeletonDeleter {
  void operator()(netfault_bpf* skel) const { netfault_bpf::destroy(skel); }
};
using NetfaultSkeleton = std::unique_ptr<netfault_bpf, SkeletonDeleter>;

enum NetfaultProgram : unsigned {
  kTcIngress = 1 << 0,
  kTcEgress = 1 << 1,
  kCgroupIngress = 1 << 2,
  kCgroupEgress = 1 << 3,
  kConnect4 = 1 << 4,
  kConnect6 = 1 << 5,
  kSteer4 = 1 << 6,
  kSteer6 = 1 << 7,
  kSteerOps = 1 << 8,
};
// Opens the object, keeps only the programs in `programs`, and loads them through the verifier.
// `configure` runs on the .bss before load, so the first packet already sees the configuration.
Result<NetfaultSkeleton> load_netfault(unsigned programs);

// A BPF link: detached on destruction, and by the kernel when the process dies.
class BpfLink {
 public:
  BpfLink() = default;
  explicit BpfLink(bpf_link* link) : link_(link) {}
  BpfLink(BpfLink&& other) noexcept : link_(other.link_) { other.link_ = nullptr; }
  BpfLink& operator=(BpfLink&& other) noexcept;
  ~BpfLink();
  Result<void> destroy();

 private:
  bpf_link* link_ = nullptr;
};

// A file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept;
  ~Fd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Switches the calling thread into a named network namespace (/run/netns/NAME) and back.
class NetnsGuard {
 public:
  static Result<std::unique_ptr<NetnsGuard>> enter(const std::string& name);  // "" stays where it is
  ~NetnsGuard();

 private:
  Fd original_;
};

struct TcFilterId {
  int ifindex = 0;
  bool egress = false;
  unsigned handle = 0;
  unsigned priority = 0;
};

// A tc filter rebound attached. Detached on destruction (in the namespace it was made in).
class TcFilter {
 public:
  // Creates clsact if missing (created_clsact tells), then attaches prog at a free priority.
  static Result<TcFilter> attach(const std::string& netns, int ifindex, bool egress, int prog_fd,
                                 unsigned first_priority);
  TcFilter(TcFilter&& other) noexcept;
  TcFilter& operator=(TcFilter&&) = delete;
  ~TcFilter();
  Result<void> detach();
  const TcFilterId& id() const { return id_; }
  bool created_clsact() const { return created_clsact_; }

 private:
  TcFilter() = default;
  std::string netns_;
  TcFilterId id_;
  bool created_clsact_ = false;
  bool attached_ = false;
};

// Detaches a recorded filter if it is still there and still runs one of rebound's programs.
Result<std::string> detach_recorded_filter(const std::string& netns, const TcFilterId& id);
// Removes a clsact qdisc rebound created, once no filter is left on it.
Result<void> remove_clsact_if_empty(const std::string& netns, const std::string& ifname, int ifindex);

// cgroup v2: where it is mounted ("" if not), and a process's cgroup as a path under it.
std::string cgroup2_mount();
Result<std::string> process_cgroup(int pid);

}  // namespace rebound
