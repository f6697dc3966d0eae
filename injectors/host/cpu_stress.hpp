#pragma once
// cpu.stress: stress-ng CPU workers that compete where the target lives: inside the target's cgroup when its
// CPU controller is on there (so the target's own quota is eaten, as in a container), otherwise pinned to the
// CPUs the target may run on. The detail reports the target's CPU time and run-queue wait before and during.
#include "injectors/host/stress_ng.hpp"
#include "injectors/registry.hpp"

namespace rebound {

class CpuStress : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  static Result<std::string> recover(const nlohmann::json& undo) { return StressNg::recover(undo); }
  Result<void> preflight() override;
  Result<void> apply(StepContext& context) override;
  Result<void> revert(StepContext& context) override;
  Result<std::string> plan(const std::vector<ProcessInfo>& processes) const override;
  nlohmann::json describe() const override;

 private:
  static std::string placement(const TargetPlace& place);
  int64_t workers_for(const TargetPlace& place) const;  // as declared, else one per CPU the target may use
  std::optional<int64_t> workers_;  // default: one per CPU the target may run on
  int64_t load_ = 100;
  int timeout_s_ = 0;               // stress-ng's own limit: the step's duration and a margin
  StressNg stress_;
  pid_t watched_ = 0;               // the target process whose CPU time is reported
  SchedTimes at_apply_{};
  std::chrono::steady_clock::time_point applied_at_{};
  double before_cpu_share_ = 0, before_wait_share_ = 0;
};

}  // namespace rebound
