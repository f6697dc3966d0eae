#include "probes/command_probe.hpp"

#include <fmt/format.h>

#include "system/subprocess.hpp"

namespace rebound {

std::vector<ParamDoc> CommandProbe::params() {
  auto docs = command_param_docs(false);
  docs.push_back({"expect_stdout", "string (RE2 regex)", "none", "stdout must contain a match"});
  return docs;
}

std::unique_ptr<Probe> CommandProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<CommandProbe>();
  auto spec = parse_command(reader, context.vars, {});
  if (!spec) return nullptr;
  probe->command_ = std::move(*spec);
  probe->command_.timeout = context.timeout;
  if (auto pattern = reader.string("expect_stdout")) {
    auto re = UserRegex::compile(*pattern);
    if (!re) {
      reader.error("expect_stdout", re.error().message);
      return nullptr;
    }
    probe->stdout_pattern_.emplace(std::move(*re));
    probe->stdout_pattern_text_ = *pattern;
  }
  return probe;
}

SampleResult CommandProbe::sample() {
  SampleResult r;
  auto outcome = run_command(command_);
  if (!outcome) {
    r.reason = outcome.error().message;
    return r;
  }
  r.latency_ms = outcome->duration_ms;
  if (!outcome->as_expected(command_)) {
    r.reason = outcome->summary(command_);
    return r;
  }
  if (stdout_pattern_ && !stdout_pattern_->search(outcome->out)) {
    r.reason = fmt::format("exit {}, stdout does not match /{}/", outcome->exit_code, stdout_pattern_text_);
    return r;
  }
  r.ok = true;
  r.reason = fmt::format("exit {}", outcome->exit_code);
  return r;
}

nlohmann::json CommandProbe::describe() const {
  auto j = to_json(command_);
  if (stdout_pattern_) j["expect_stdout"] = stdout_pattern_text_;
  return j;
}

}  // namespace rebound
