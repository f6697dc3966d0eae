#pragma once
#include "injectors/registry.hpp"

namespace rebound {

// The runner holds a step open for its duration; a wait has nothing else to do.
class WaitStep : public StepAction {
 public:
  static std::unique_ptr<StepAction> parse(TableReader&, const StepFactoryContext&) {
    return std::make_unique<WaitStep>();
  }
  Result<void> apply(StepContext& context) override {
    context.effect = StepEffect{true, "waited"};
    return {};
  }
  nlohmann::json describe() const override { return nlohmann::json::object(); }
};

}  // namespace rebound
