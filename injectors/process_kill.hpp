#pragma once
#include "injectors/registry.hpp"

namespace rebound {

class ProcessKill : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  Result<void> apply(StepContext& context) override;
  nlohmann::json describe() const override;

 private:
  int signal_ = 9;
  std::optional<int64_t> count_;  // nullopt: all matched processes
};

}  // namespace rebound
