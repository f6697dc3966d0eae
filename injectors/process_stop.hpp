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
  bool follows() const override { return true; }
  // Freezes the newcomers too (within count), each recorded for SIGCONT before its SIGSTOP.
  Result<std::vector<ProcessInfo>> extend(StepContext& context, const std::vector<ProcessInfo>& newcomers) override;
  nlohmann::json describe() const override;

 private:
  struct Stopped {
    ProcessInfo process;
    std::string hold;  // its hold file; empty without a state directory
  };
  // Records each process's hold and sends SIGSTOP; "" or the error that stopped it.
  std::string stop_all(StepContext& context, const std::vector<ProcessInfo>& chosen,
                       const std::vector<std::string>& holds, std::vector<ProcessInfo>& signalled);
  std::optional<int64_t> count_;
  nlohmann::json undo_;  // the record's undo: every process to send SIGCONT
  std::string state_dir_;
  std::vector<Stopped> stopped_;
};

}  // namespace rebound
