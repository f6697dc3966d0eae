#include "injectors/network/netfault_programs.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <sched.h>
#include <thread>
#include <unistd.h>

namespace rebound {

Result<void> load_netfault_once(NetfaultSkeleton& skel, unsigned programs) {
  if (skel) return {};
  auto loaded = load_netfault(programs);
  if (!loaded) return loaded.error();
  skel = std::move(*loaded);
  return {};
}

void report_netfault_counters(StepContext& context, NetfaultSkeleton& skel, const std::string& counted,
                              unsigned programs) {
  if (!skel) return;
  const auto& s = skel->bss->stats;
  context.detail[counted + "_seen"] = s.seen;
  context.detail[counted + "_matched"] = s.matched;
  context.detail[counted + "_affected"] = s.affected;
  if (programs & kPacketPrograms)  // packets, not connects
    context.detail[counted + "_unparsed"] = s.unparsed;
  if (programs & kTcPrograms)  // the operator's connections, left alone (control_exclusion.hpp)
    context.detail[counted + "_excluded"] = s.excluded;
  skel.reset();
}

namespace {

// Adds clsact to lo in a private network namespace that vanishes after.
Result<void> probe_clsact() {
  Result<void> tc_result;
  std::thread probe([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      tc_result = fail_errno("cannot make a scratch network namespace");
      return;
    }
    bpf_tc_hook hook{};
    hook.sz = sizeof hook;
    hook.ifindex = 1;  // lo of the scratch namespace
    hook.attach_point = BPF_TC_INGRESS;
    int rc = bpf_tc_hook_create(&hook);
    if (rc != 0 && rc != -EEXIST) tc_result = fail(fmt::format("the clsact qdisc is not available: {}", std::strerror(-rc)));
  });
  probe.join();
  return tc_result;
}

Result<void> probe_host(unsigned programs) {
  bool needs_tc = programs & kTcPrograms;
  bool needs_cgroup = programs & ~kTcPrograms;
  if (geteuid() != 0) return fail("needs root (CAP_BPF, CAP_NET_ADMIN and write access to cgroups)");
  if (needs_cgroup && cgroup2_mount().empty()) return fail("cgroup v2 is not mounted");
  auto skel = load_netfault(programs);
  if (!skel) return skel.error();
  if (needs_tc) return probe_clsact();
  return {};
}

}  // namespace

Result<void> netfault_available(unsigned programs) {
  static std::mutex mutex;
  static std::map<unsigned, Result<void>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(programs); it != cache.end()) return it->second;
  Result<void> r = probe_host(programs);
  cache.emplace(programs, r);
  return r;
}

}  // namespace rebound
