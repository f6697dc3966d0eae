#pragma once
#include "injectors/registry.hpp"

namespace rebound {

// Freezes processes with SIGSTOP; reverting sends SIGCONT to the same processes (checked by start time),
// unless another experiment still holds one of them frozen (injectors/process_holds.hpp): a process frozen by
// several experiments resumes when the last of them ends.
class ProcessStop : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  static Result<std::string> recover(const nlohmann::json& undo);
  Result<void> apply(StepContext& context) override;
  Result<void> revert(StepContext& context) override;
  nlohmann::json describe() const override;

 private:
  struct Stopped {
    ProcessInfo process;
    std::string hold;  // its hold file; empty without a state directory
  };
  std::optional<int64_t> count_;
  std::string state_dir_;
  std::vector<Stopped> stopped_;
};

}  // namespace rebound
