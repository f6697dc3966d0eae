#pragma once
#include "injectors/registry.hpp"

namespace rebound {

// Freezes processes with SIGSTOP; reverting sends SIGCONT to the same processes (checked by start time).
class ProcessStop : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  static Result<std::string> recover(const nlohmann::json& undo);
  Result<void> apply(StepContext& context) override;
  Result<void> revert(StepContext& context) override;
  nlohmann::json describe() const override;

 private:
  std::optional<int64_t> count_;
  std::vector<ProcessInfo> stopped_;
};

}  // namespace rebound
