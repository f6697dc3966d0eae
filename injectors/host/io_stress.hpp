#pragma once
// io.stress: stress-ng hdd workers that write and read files on the file system that holds `path`, in a work
// folder of rebound's own under it (on record before it is made, so revert, the guardian and `rebound recover`
// remove it with the stressors). The detail reports the bytes written and read, and what reached the device.
#include "injectors/host/stress_ng.hpp"
#include "injectors/registry.hpp"

namespace rebound {

class IoStress : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  static Result<std::string> recover(const nlohmann::json& undo);
  Result<void> preflight() override;
  Result<void> apply(StepContext& context) override;
  Result<void> revert(StepContext& context) override;
  nlohmann::json describe() const override;

 private:
  std::string path_;
  int64_t workers_ = 1;
  uint64_t size_ = 64ULL << 20;  // per worker
  int timeout_s_ = 0;
  std::string work_dir_;
  StressNg stress_;
};

}  // namespace rebound
