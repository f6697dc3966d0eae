#include "injectors/network/bpf_handles.hpp"

#include "system/subprocess.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace rebound {

namespace {
thread_local int quiet_depth = 0;

int libbpf_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  if (quiet_depth > 0) return 0;
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

QuietLibbpf::QuietLibbpf() {
  forward_libbpf_log();
  ++quiet_depth;
}
QuietLibbpf::~QuietLibbpf() { --quiet_depth; }

Result<NetfaultSkeleton> load_netfault(unsigned programs) {
  forward_libbpf_log();
  NetfaultSkeleton skel(netfault_bpf::open());
  if (!skel) return fail_errno("cannot open the BPF object");
  const std::pair<bpf_program*, unsigned> all[] = {
      {skel->progs.netfault_tc_ingress, kTcIngress},         {skel->progs.netfault_tc_egress, kTcEgress},
      {skel->progs.netfault_cgroup_ingress, kCgroupIngress}, {skel->progs.netfault_cgroup_egress, kCgroupEgress},
      {skel->progs.netfault_connect4, kConnect4},            {skel->progs.netfault_connect6, kConnect6},
      {skel->progs.netfault_steer4, kSteer4},                {skel->progs.netfault_steer6, kSteer6},
      {skel->progs.netfault_steer_ops, kSteerOps},
      {skel->progs.netfault_sockets_ingress, kSocketsIngress}, {skel->progs.netfault_sockets_egress, kSocketsEgress},
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
    // A move assignment cannot report: a link that fails to detach is released by the kernel with its fd.
    (void)destroy();
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

Result<std::unique_ptr<NetnsGuard>> NetnsGuard::enter(const std::string& name) {
  auto guard = std::unique_ptr<NetnsGuard>(new NetnsGuard());
  if (name.empty()) return guard;
  Fd target(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!target)
    return fail(fmt::format("network namespace '{}' not found (/run/netns/{}: {})", name, name, std::strerror(errno)));
  guard->original_ = Fd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (setns(target.get(), CLONE_NEWNET) != 0)
    return fail_errno(fmt::format("cannot enter network namespace '{}'", name));
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

Result<ProgIdentity> prog_identity(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return fail_errno("cannot read a loaded program's id");
  ProgIdentity out{info.id, ""};
  for (unsigned char byte : info.tag) out.tag += fmt::format("{:02x}", byte);
  return out;
}

Result<bool> add_clsact(const std::string& netns, int ifindex) {
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  bpf_tc_hook hook = make_hook(ifindex, false);
  int rc = bpf_tc_hook_create(&hook);
  if (rc != 0 && rc != -EEXIST)
    return fail(fmt::format("cannot add a clsact qdisc on interface {}: {}", ifindex, std::strerror(-rc)));
  return rc == 0;
}

Result<TcFilter> TcFilter::attach(const std::string& netns, int ifindex, bool egress, int prog_fd,
                                  unsigned first_priority, unsigned priorities) {
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  auto prog = prog_identity(prog_fd);
  if (!prog) return prog.error();
  TcFilter filter;
  filter.netns_ = netns;
  bpf_tc_hook hook = make_hook(ifindex, egress);
  int last = 0;
  QuietLibbpf quiet;  // a taken priority is expected; the final error says what happened
  for (unsigned priority = first_priority; priority < first_priority + priorities; ++priority) {
    bpf_tc_opts opts{};
    opts.sz = sizeof opts;
    opts.prog_fd = prog_fd;
    opts.handle = 1;
    opts.priority = priority;
    int rc = bpf_tc_attach(&hook, &opts);
    if (rc == 0) {
      filter.id_ = {ifindex, egress, opts.handle, opts.priority, prog->id};
      filter.attached_ = true;
      return filter;
    }
    // EEXIST: a bpf filter holds this priority; EINVAL: a filter of another kind or protocol does. Try the next.
    last = rc;
    if (rc != -EEXIST && rc != -EINVAL) break;
  }
  return fail(fmt::format("cannot attach a tc {} filter on interface {} at any priority from {:#x} to {:#x} (other "
                          "filters hold them, or the kernel refused: {}); free one with `tc filter del`",
                          egress ? "egress" : "ingress", ifindex, first_priority, first_priority + priorities - 1,
                          std::strerror(-last)));
}

TcFilter::TcFilter(TcFilter&& other) noexcept
    : netns_(std::move(other.netns_)), id_(other.id_), attached_(other.attached_) {
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

// The program a filter runs, or 0 when no bpf filter is at that handle and priority.
static unsigned filter_prog(const TcFilterId& id) {
  bpf_tc_hook hook = make_hook(id.ifindex, id.egress);
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = id.handle;
  opts.priority = id.priority;
  QuietLibbpf quiet;  // "Cannot find specified filter chain" for every miss
  if (bpf_tc_query(&hook, &opts) != 0) return 0;
  return opts.prog_id;
}

std::optional<unsigned> find_filter(const std::string& netns, const TcFilterId& where, unsigned first_priority,
                                    unsigned priorities) {
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return std::nullopt;
  for (unsigned priority = first_priority; priority < first_priority + priorities; ++priority) {
    TcFilterId id = where;
    id.priority = priority;
    if (filter_prog(id) == where.prog_id) return priority;
  }
  return std::nullopt;
}

Result<std::string> detach_recorded_filter(const std::string& netns, const TcFilterId& id) {
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  const char* hook = id.egress ? "egress" : "ingress";
  unsigned prog = filter_prog(id);
  if (prog == 0) return fmt::format("tc {} filter (interface {}, priority {:#x}) already gone", hook, id.ifindex, id.priority);
  // Only the filter that still runs the program rebound attached is ours to remove.
  if (prog != id.prog_id)
    return fmt::format("tc {} filter (interface {}, priority {:#x}) left alone: another program now holds that place",
                       hook, id.ifindex, id.priority);
  if (auto r = detach_filter(id); !r) return r.error();
  return fmt::format("removed tc {} filter (interface {}, priority {:#x})", hook, id.ifindex, id.priority);
}

Result<std::vector<unsigned>> tc_priorities_in_use(const std::string& netns, const std::string& ifname, bool egress) {
  CommandSpec tc;
  tc.argv = {"tc", "-j"};
  if (!netns.empty()) tc.argv.insert(tc.argv.end(), {"-netns", netns});
  tc.argv.insert(tc.argv.end(), {"filter", "show", "dev", ifname, egress ? "egress" : "ingress"});
  tc.timeout = Millis(5000);
  tc.expect_exit = std::nullopt;
  auto shown = run_command(tc);
  if (!shown) return shown.error();
  std::vector<unsigned> out;
  if (shown->exit_code != 0) return out;  // no clsact (or no interface): nothing holds a priority
  auto j = nlohmann::json::parse(shown->out, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& f : j)
    if (f.is_object() && f.contains("pref") && (out.empty() || out.back() != f["pref"].get<unsigned>()))
      out.push_back(f["pref"].get<unsigned>());
  return out;
}

Result<bool> remove_clsact_if_empty(const std::string& netns, const std::string& ifname, int ifindex) {
  // libbpf cannot list filters; iproute2's tc can. Any filter left (someone else's) keeps the qdisc.
  for (const char* hook : {"ingress", "egress"}) {
    CommandSpec tc;
    tc.argv = {"tc"};
    if (!netns.empty()) tc.argv.insert(tc.argv.end(), {"-netns", netns});
    tc.argv.insert(tc.argv.end(), {"filter", "show", "dev", ifname, hook});
    tc.timeout = Millis(5000);
    tc.expect_exit = std::nullopt;
    auto shown = run_command(tc);
    if (!shown) return shown.error();
    if (shown->exit_code != 0) return true;  // the interface is gone, and its qdisc with it
    if (shown->out.find_first_not_of(" \n") != std::string::npos) return false;
  }
  auto ns = NetnsGuard::enter(netns);
  if (!ns) return ns.error();
  bpf_tc_hook hook = make_hook(ifindex, false);
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  QuietLibbpf quiet;
  int rc = bpf_tc_hook_destroy(&hook);
  if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
    return fail(fmt::format("cannot remove the clsact qdisc rebound added on {}: {}", ifname, std::strerror(-rc)));
  return true;
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
