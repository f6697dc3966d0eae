#pragma once
// RAII owners for the kernel handles of network faults: the loaded BPF object, cgroup links,
// tc filters (netlink; not owned by the process, hence the deadline and the records), and a
// network-namespace switch for the calling thread.
#include <bpf/libbpf.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "system/fd.hpp"
#include "netfault.h"  // the skeleton refers to these structs
#include "netfault.skel.h"

namespace rebound {

// Routes libbpf's own messages into rebound's log (once per process).
void forward_libbpf_log();
// While one lives, libbpf's messages on this thread are dropped: for queries whose miss is expected
// (libbpf reports each missing tc filter as "Cannot find specified filter chain"); the caller says what
// the miss means in its own words.
class QuietLibbpf {
 public:
  QuietLibbpf();
  ~QuietLibbpf();
  QuietLibbpf(const QuietLibbpf&) = delete;
};

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
  kSocketsIngress = 1 << 9,  // cgroup_skb on the cgroups of a target's existing sockets, by cookie
  kSocketsEgress = 1 << 10,
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

// Switches the calling thread into a named network namespace (/run/netns/NAME) and back.
class NetnsGuard {
 public:
  static Result<std::unique_ptr<NetnsGuard>> enter(const std::string& name);  // "" stays where it is
  ~NetnsGuard();

 private:
  Fd original_;
};

// A tc filter is identified by its interface, hook, handle and priority, and, to tell it from a filter
// that took the same place later, by the id and tag of the program it runs.
struct TcFilterId {
  int ifindex = 0;
  bool egress = false;
  unsigned handle = 0;
  unsigned priority = 0;
  unsigned prog_id = 0;
};

// A loaded program's kernel id and tag (hex), for records.
struct ProgIdentity {
  unsigned id = 0;
  std::string tag;
};
[[nodiscard]] Result<ProgIdentity> prog_identity(int prog_fd);

// Adds the clsact qdisc of an interface; true if rebound added it, false if it was there already.
[[nodiscard]] Result<bool> add_clsact(const std::string& netns, int ifindex);

// A tc filter rebound attached. Detached on destruction (in the namespace it was made in).
class TcFilter {
 public:
  // Attaches prog at the first priority from first_priority on that no other filter holds (the kernel
  // answers EEXIST for a bpf filter there, EINVAL for a filter of another kind or protocol). clsact
  // must exist.
  [[nodiscard]] static Result<TcFilter> attach(const std::string& netns, int ifindex, bool egress, int prog_fd,
                                               unsigned first_priority, unsigned priorities);
  TcFilter(TcFilter&& other) noexcept;
  TcFilter& operator=(TcFilter&&) = delete;
  ~TcFilter();
  [[nodiscard]] Result<void> detach();
  const TcFilterId& id() const { return id_; }

 private:
  TcFilter() = default;
  std::string netns_;
  TcFilterId id_;
  bool attached_ = false;
};

// The priority, among `priorities` from first_priority, of the filter on that hook that runs program
// prog_id; nullopt if none does. Quiet about the priorities that hold nothing.
std::optional<unsigned> find_filter(const std::string& netns, const TcFilterId& where, unsigned first_priority,
                                    unsigned priorities);
// Detaches a recorded filter if it is still there and still runs the recorded program (id.prog_id).
[[nodiscard]] Result<std::string> detach_recorded_filter(const std::string& netns, const TcFilterId& id);
// Priorities from first_priority that filters hold on a hook (iproute2's tc lists them; libbpf cannot).
[[nodiscard]] Result<std::vector<unsigned>> tc_priorities_in_use(const std::string& netns, const std::string& ifname,
                                                                 bool egress);
// Removes a clsact qdisc rebound created, once no filter is left on it: true if it did.
[[nodiscard]] Result<bool> remove_clsact_if_empty(const std::string& netns, const std::string& ifname, int ifindex);

// cgroup v2: where it is mounted ("" if not), and a process's cgroup as a path under it.
std::string cgroup2_mount();
Result<std::string> process_cgroup(int pid);

}  // namespace rebound
