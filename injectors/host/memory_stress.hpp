#pragma once
// memory.stress: stress-ng VM workers that hold `size` bytes where the target lives: charged to the target's
// memory cgroup when it has one (v2, or the v1 memory controller of hybrid hosts), so that the target's own limit
// is what gets tight. The stressors are the OOM killer's last choice, so the target feels it; an OOM kill during
// the fault is reported (which process the kernel killed) as an observation, not an error.
#include <optional>

#include "injectors/host/memory_cgroup.hpp"
#include "injectors/host/stress_ng.hpp"
#include "injectors/registry.hpp"
#include "system/kernel_log.hpp"

namespace rebound {

class MemoryStress : public StepAction {
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
  static std::string placement(const std::optional<MemoryCgroup>& cgroup);
  // The bytes to hold: the declared size, or its share of the cgroup's limit.
  Result<uint64_t> bytes_to_hold(const std::optional<MemoryCgroup>& cgroup) const;
  std::optional<uint64_t> size_;
  std::optional<double> size_percent_;  // of the target's memory limit
  int64_t workers_ = 1;
  int timeout_s_ = 0;
  StressNg stress_;
  std::optional<MemoryCgroup> cgroup_;
  std::string cgroup_name_;
  std::optional<KernelLog> kernel_log_;
  uint64_t oom_kills_before_ = 0, limit_hits_before_ = 0, usage_before_ = 0, held_ = 0, resident_peak_ = 0;
  std::vector<pid_t> target_pids_;
  std::vector<std::string> target_commands_;
};

}  // namespace rebound
