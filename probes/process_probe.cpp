#include "probes/process_probe.hpp"

#include <chrono>
#include <fmt/format.h>

namespace rebound {

std::vector<ParamDoc> ProcessProbe::params() {
  return {
      {"target", "string", "", "name of a [[targets]] entry"},
      {"min_count", "integer", "1", "fewest live processes that count as healthy"},
      {"max_count", "integer", "none", "most live processes that count as healthy"},
  };
}

std::unique_ptr<Probe> ProcessProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<ProcessProbe>();
  auto target = reader.string("target", true);
  if (!target) return nullptr;
  for (const auto& t : context.targets)
    if (t.name == *target) probe->target_ = t;
  if (probe->target_.name.empty()) {
    reader.error("target",
                 fmt::format("no target named '{}'{}", *target, target_name_hint(*target, context.targets)));
    return nullptr;
  }
  probe->min_count_ = reader.integer("min_count").value_or(1);
  probe->max_count_ = reader.integer("max_count");
  return probe;
}

SampleResult ProcessProbe::sample() {
  auto started = std::chrono::steady_clock::now();
  SampleResult r;
  auto matched = match_target(target_);
  r.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (!matched) {
    r.reason = matched.error().message;
    return r;
  }
  auto count = static_cast<int64_t>(matched->size());
  r.ok = count >= min_count_ && (!max_count_ || count <= *max_count_);
  r.reason = fmt::format("{} process{}", count, count == 1 ? "" : "es");
  return r;
}

nlohmann::json ProcessProbe::describe() const {
  nlohmann::json j{{"target", target_.name}, {"min_count", min_count_}};
  if (max_count_) j["max_count"] = *max_count_;
  return j;
}

}  // namespace rebound
