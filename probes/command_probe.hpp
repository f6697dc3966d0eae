#pragma once
#include <optional>

#include "config/command_spec.hpp"
#include "config/user_regex.hpp"
#include "probes/registry.hpp"

namespace rebound {

class CommandProbe : public Probe {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  SampleResult sample() override;
  nlohmann::json describe() const override;

 private:
  CommandSpec command_;
  std::string stdout_pattern_text_;
  std::optional<UserRegex> stdout_pattern_;
};

}  // namespace rebound
