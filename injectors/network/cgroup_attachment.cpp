#include "injectors/network/cgroup_attachment.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>

namespace rebound {

Result<void> CgroupAttachment::apply(StepContext& context, const TargetSpec& target, netfault_bpf& skel,
                                     unsigned programs) {
  std::vector<std::string> cgroups;
  if (target.kind == TargetKind::cgroup) {
    cgroups.push_back(target.value);  // descendants included: cgroup programs are inherited
  } else {
    // A process target: give its processes cgroups of their own for the fault, and move them back after.
    // Sockets keep the cgroup they were created in, so the fault reaches the connections opened from now on.
    std::string state_dir = context.recorder ? context.recorder->dir() : FaultRecorder::default_dir();
    auto scope = CgroupScope::enter(context.processes, state_dir,
                                    [&](const nlohmann::json& undo) { return context.record(undo); });
    if (!scope) return scope.error();
    scope_ = std::move(*scope);
    cgroups = scope_->cgroups();
    if (!scope_->warnings().empty()) context.detail["cgroup_warning"] = fmt::format("{}", fmt::join(scope_->warnings(), "; "));
  }
  for (const auto& path : cgroups)
    if (auto r = attach(path, skel, programs); !r) return r;
  cgroups_ = cgroups;
  context.detail["cgroup"] = cgroups.front();
  if (cgroups.size() > 1) context.detail["cgroups"] = cgroups;
  return {};
}

Result<std::vector<ProcessInfo>> CgroupAttachment::extend(StepContext& context,
                                                          const std::vector<ProcessInfo>& newcomers, netfault_bpf& skel,
                                                          unsigned programs) {
  if (!scope_) return fail("the fault is not scoped to a process target's cgroups");
  auto fresh = scope_->extend(newcomers, [&](const nlohmann::json& undo) { return context.update_record(undo); });
  if (!fresh) return fresh.error();
  for (const auto& path : *fresh) {
    if (auto r = attach(path, skel, programs); !r) return r.error();
    cgroups_.push_back(path);
  }
  if (!fresh->empty()) context.detail["cgroups"] = cgroups_;
  std::vector<ProcessInfo> reached;
  for (const auto& p : newcomers)
    if (process_is(p.pid, p.start_time)) reached.push_back(p);
  return reached;
}

Result<void> CgroupAttachment::attach(const std::string& path, netfault_bpf& skel, unsigned programs) {
  Fd cgroup(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) return fail_errno(fmt::format("cannot open cgroup {}", path));
  const std::pair<bpf_program*, unsigned> candidates[] = {
      {skel.progs.netfault_cgroup_ingress, kCgroupIngress},
      {skel.progs.netfault_cgroup_egress, kCgroupEgress},
      {skel.progs.netfault_connect4, kConnect4},
      {skel.progs.netfault_connect6, kConnect6},
      {skel.progs.netfault_steer4, kSteer4},
      {skel.progs.netfault_steer6, kSteer6},
      {skel.progs.netfault_steer_ops, kSteerOps},
  };
  for (auto [prog, bit] : candidates) {
    if (!(programs & bit)) continue;
    bpf_link* link = bpf_program__attach_cgroup(prog, cgroup.get());
    if (!link)
      return fail_errno(fmt::format("cannot attach {} to cgroup {}", bpf_program__name(prog), path));
    links_.emplace_back(link);
  }
  return {};
}

Result<void> CgroupAttachment::revert() {
  std::vector<std::string> errors;
  for (auto& l : links_)
    if (auto r = l.destroy(); !r) errors.push_back(r.error().message);
  links_.clear();
  cgroups_.clear();
  if (scope_) {  // after the links: the processes leave with the programs already gone
    if (auto r = scope_->leave(); !r) errors.push_back(r.error().message);
    scope_.reset();
  }
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

}  // namespace rebound
