#pragma once
// The cgroup scope of a network fault: the step's programs attached with links to a cgroup target, or, for
// a process target, to the cgroups its processes are moved into for the step (CgroupScope). Reverting
// detaches the links first, then lets the processes go back.
#include <memory>
#include <string>
#include <vector>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/cgroup_scope.hpp"
#include "injectors/step.hpp"

namespace rebound {

class CgroupAttachment {
 public:
  CgroupAttachment() = default;
  CgroupAttachment(const CgroupAttachment&) = delete;
  CgroupAttachment& operator=(const CgroupAttachment&) = delete;
  // The backstop: the links detach, then the CgroupScope leaves (each logs what fails).
  ~CgroupAttachment() = default;

  // Attaches skel's programs in `programs` to the target's cgroups; notes them in the step's detail.
  [[nodiscard]] Result<void> apply(StepContext& context, const TargetSpec& target, netfault_bpf& skel,
                                   unsigned programs);
  // A process target's new processes (a step that follows it): moved into the step's cgroups, the programs
  // attached to any new one; the record's undo rewritten first. Returns the processes now in the fault.
  [[nodiscard]] Result<std::vector<ProcessInfo>> extend(StepContext& context, const std::vector<ProcessInfo>& newcomers,
                                                        netfault_bpf& skel, unsigned programs);
  // Detaches every link, then moves the processes back and removes rebound's cgroups. Safe to call again.
  [[nodiscard]] Result<void> revert();
  // The cgroups the programs are attached to (while applied).
  const std::vector<std::string>& cgroups() const { return cgroups_; }

 private:
  [[nodiscard]] Result<void> attach(const std::string& path, netfault_bpf& skel, unsigned programs);
  std::unique_ptr<CgroupScope> scope_;  // a process target's cgroups (declared first: destroyed last)
  std::vector<BpfLink> links_;
  std::vector<std::string> cgroups_;
};

}  // namespace rebound
