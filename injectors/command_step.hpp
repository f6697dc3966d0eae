#pragma once
#include "config/command_spec.hpp"
#include "injectors/registry.hpp"

namespace rebound {

class CommandStep : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
  explicit CommandStep(CommandSpec spec) : spec_(std::move(spec)) {}
  Result<void> apply(StepContext& context) override;
  nlohmann::json describe() const override { return to_json(spec_); }

 private:
  CommandSpec spec_;
};

}  // namespace rebound
