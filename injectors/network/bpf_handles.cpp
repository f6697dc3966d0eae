#include "injectors/network/bpf_handles.hpp"

#include "experiments/subprocess.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace rebound {

namespace {
int libbpf_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  // Verifier logs are long: size the buffer to the message.
  va_list copy;
  va_copy(copy, args);
  int needed = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string line(static_cast<size_t>(std::max(needed, 0)) + 1, '\0');
  vsnprintf(line.data(), line.size(), format, args);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\0')) line.pop_back();
  // Failures are reported by rebound's own errors; libbpf's detail (the verifier log) is for --log-level debug.
  if (level == LIBBPF_DEBUG) spdlog::trace("{}", line);
  else spdlog::debug("{}", line);
  return 0;
}
}  // namespace

void forward_libbpf_log() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_to_spdlog); });
}

Result<NetfaultSkeleton> load_netfault(unsigned programs) {
  forward_libbpf_log();
  NetfaultSkeleton skel(netfault_bpf::open());
  if (!skel) return fail(fmt::format("cannot open the BPF object: {}", std::strerror(errno)));
  const std::pair<bpf_program*, unsigned> all[] = {
      {skel->progs.netfault_tc_ingress, kTcIngress},         {skel->progs.netfault_tc_egress, kTcEgress},
      {skel->progs.netfault_cgroup_ingress, kCgroupIngress}, {skel->progs.netfault_cgroup_egress, kCgroupEgress},
      {skel->progs.netfault_connect4, kConnect4},            {skel->progs.netfault_connect6, kConnect6},
      {skel->progs.netfault_steer4, kSteer4},                {skel->progs.netfault_steer6, kSteer6},
      {skel->progs.netfault_steer_ops, kSteerOps},
  };
  for (auto [prog, bit] : all) bpf_program__set_autoload(prog, (programs & bit) != 0);
  if (int rc = netfault_bpf::load(skel.get()); rc != 0) {
    return fail(fmt::format("the kernel refused rebound's BPF programs ({}){}", std::strerror(-rc),
                            -rc == EPERM ? ": run as root (CAP_BPF and CAP_NET_ADMIN are needed)"
                                         : "; run with --log-level debug for the verifier's log"));
  }
  return skel;
}

BpfLink& BpfLink::operator=(BpfLink&& other) noexcept {
  if (this != &other) {
    destroy();
    link_ = other.link_;
    other.link_ = nullptr;
  }
  return *this;
}

BpfLink::~BpfLink() {
  if (auto r = destroy(); !r) spdlog::error("{}", r.error().message);
}

Result<void> BpfLink::destroy() {
  if (!link_) return {};
  int rc = bpf_link__destroy(link_);
  link_ = nullptr;
  if (rc != 0) return fail(fmt::format("cannot detach a BPF link: {}", std::strerror(-rc)));
  return {};
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<NetnsGuard>> NetnsGuard::enter(const std::string& name) {
  auto guard = std::unique_ptr<NetnsGuard>(new NetnsGuard());
  if (name.empty()) return guard;
  Fd target(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!target)
    return fail(fmt::format("network namespace '{}' not found (/run/netns/{}: {})", name, name, std::strerror(errno)));
  guard->original_ = Fd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (setns(target.get(), CLONE_NEWNET) != 0)
    return fail(fmt::format("cannot enter network namespace '{}': {}", name, std::strerror(errno)));
  return guard;
}

NetnsGuard::~NetnsGuard() {
  if (original_ && setns(original_.get(), CLONE_NEWNET) != 0)
    spdlog::error("cannot return to rebound's network namespace: {}", std::strerror(errno));
}

static bpf_tc_hook make_hook(int ifindex, bool egress) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = ifindex;
  hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
  return hook;
}

Result<TcFilter> TcFilter::attach(const std::string& netns, int ifindex, bool egress, int prog_fd,
                                  unsigned first_priority) {
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  TcFilter filter;
  filter.netns_ = netns;
  bpf_tc_hook hook = make_hook(ifindex, egress);
  int rc = bpf_tc_hook_create(&hook);
  if (rc != 0 && rc != -EEXIST)
    return fail(fmt::format("cannot add a clsact qdisc on interface {}: {}", ifindex, std::strerror(-rc)));
  filter.created_clsact_ = rc == 0;
  for (unsigned priority = first_priority; priority < first_priority + 64; ++priority) {
    bpf_tc_opts opts{};
    opts.sz = sizeof opts;
    opts.prog_fd = prog_fd;
    opts.handle = 1;
    opts.priority = priority;
    rc = bpf_tc_attach(&hook, &opts);
    if (rc == -EEXIST) continue;
    if (rc != 0) {
      if (filter.created_clsact_) {
        hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
        bpf_tc_hook_destroy(&hook);
      }
      return fail(fmt::format("cannot attach a tc filter on interface {}: {}", ifindex, std::strerror(-rc)));
    }
    filter.id_ = {ifindex, egress, opts.handle, opts.priority};
    filter.attached_ = true;
    return filter;
  }
  return fail("no free tc filter priority");
}

TcFilter::TcFilter(TcFilter&& other) noexcept
    : netns_(std::move(other.netns_)), id_(other.id_), created_clsact_(other.created_clsact_),
      attached_(other.attached_) {
  other.attached_ = false;
}

TcFilter::~TcFilter() {
  if (auto r = detach(); !r) spdlog::error("{}", r.error().message);
}

static Result<void> detach_filter(const TcFilterId& id) {
  bpf_tc_hook hook = make_hook(id.ifindex, id.egress);
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = id.handle;
  opts.priority = id.priority;
  int rc = bpf_tc_detach(&hook, &opts);
  if (rc != 0 && rc != -ENOENT && rc != -ENODEV && rc != -EINVAL)
    return fail(fmt::format("cannot detach tc filter (interface {}, priority {}): {}", id.ifindex, id.priority,
                            std::strerror(-rc)));
  return {};
}

Result<void> TcFilter::detach() {
  if (!attached_) return {};
  attached_ = false;
  auto ns = NetnsGuard::enter(netns_);
  if (!ns) return ns.error();
  return detach_filter(id_);
}

Result<std::string> detach_recorded_filter(const std::string& netns, const TcFilterId& id) {
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  bpf_tc_hook hook = make_hook(id.ifindex, id.egress);
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = id.handle;
  opts.priority = id.priority;
  if (bpf_tc_query(&hook, &opts) != 0) return std::string("already gone");
  // Only a filter that still runs one of rebound's programs is ours to remove.
  int fd = bpf_prog_get_fd_by_id(opts.prog_id);
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  bool ours = fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
              std::string(info.name).starts_with("netfault_tc");
  if (fd >= 0) close(fd);
  if (!ours) return std::string("left alone: another program now holds that priority");
  opts.prog_fd = 0;
  opts.prog_id = 0;
  opts.flags = 0;
  if (auto r = detach_filter(id); !r) return r.error();
  return fmt::format("removed tc {} filter (interface {}, priority {})", id.egress ? "egress" : "ingress", id.ifindex,
                     id.priority);
}

Result<void> remove_clsact_if_empty(const std::string& netns, const std::string& ifname, int ifindex) {
  // libbpf cannot list filters; iproute2's tc can. Any filter left (someone else's) keeps the qdisc.
  for (const char* hook : {"ingress", "egress"}) {
    CommandSpec tc;
    tc.argv = {"tc"};
    if (!netns.empty()) tc.argv.insert(tc.argv.end(), {"-netns", netns});
    tc.argv.insert(tc.argv.end(), {"filter", "show", "dev", ifname, hook});
    tc.timeout = Millis(5000);
    auto shown = run_command(tc);
    if (!shown) return shown.error();
    if (shown->exit_code != 0) return {};  // the interface is gone, and its qdisc with it
    if (shown->out.find_first_not_of(" \n") != std::string::npos) return {};
  }
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  bpf_tc_hook hook = make_hook(ifindex, false);
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  int rc = bpf_tc_hook_destroy(&hook);
  if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
    return fail(fmt::format("cannot remove the clsact qdisc rebound added on {}: {}", ifname, std::strerror(-rc)));
  return {};
}

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/mounts");
  std::string device, path, type, rest;
  while (mounts >> device >> path >> type && std::getline(mounts, rest))
    if (type == "cgroup2") return path;
  return "";
}

Result<std::string> process_cgroup(int pid) {
  std::ifstream in(fmt::format("/proc/{}/cgroup", pid));
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("0::")) return cgroup2_mount() + line.substr(3);
  return fail(fmt::format("pid {} has no cgroup v2 membership (is cgroup v2 mounted?)", pid));
}

}  // namespace rebound
