#include "injectors/command_step.hpp"

#include <fmt/format.h>

#include "system/subprocess.hpp"

namespace rebound {

std::vector<ParamDoc> CommandStep::params() {
  auto docs = command_param_docs(true);
  docs.push_back({"capture", "table", "{}",
                  "values to keep from stdout for later commands: { key = \"regex with one group\" }, used as "
                  "${step.NAME.key}; a pattern that does not match fails the step"});
  return docs;
}

std::unique_ptr<StepAction> CommandStep::parse(TableReader& reader, const StepFactoryContext& context) {
  CommandParseOptions options;
  options.allow_capture = true;
  auto spec = parse_command(reader, context.vars, options);
  if (!spec) return nullptr;
  return std::make_unique<CommandStep>(std::move(*spec));
}

Result<void> CommandStep::apply(StepContext& context) {
  auto outcome = run_command(spec_, context.aborted);
  if (!outcome) return outcome.error();
  context.detail["exit_code"] = outcome->exit_code;
  context.detail["duration_ms"] = outcome->duration_ms;
  context.detail["stdout"] = outcome->out.substr(0, 4096);
  context.detail["stderr"] = outcome->err.substr(0, 4096);
  if (!outcome->captured.empty()) context.detail["captured"] = outcome->captured;
  context.effect = StepEffect{true, outcome->aborted ? "stopped early: the experiment was aborted"
                                                     : fmt::format("ran, exit code {}", outcome->exit_code)};
  if (outcome->aborted) return {};
  if (!outcome->as_expected(spec_)) return fail(outcome->summary(spec_));
  return {};
}

}  // namespace rebound
