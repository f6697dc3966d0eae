#include "reports/journal.hpp"

#include <cmath>
#include <fmt/format.h>

#include "config/build_info.hpp"
#include "config/templates.hpp"
#include "reports/journal_buckets.hpp"

namespace rebound {

namespace {

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

nlohmann::json stats_json(const PhaseStats& s) {
  return {{"samples", s.samples}, {"failures", s.failures}, {"error_ratio", s.error_ratio},
          {"p50_ms", opt(s.p50)},  {"p95_ms", opt(s.p95)},    {"p99_ms", opt(s.p99)}, {"requests", s.requests}};
}

nlohmann::json check_json(const SteadyStateCheck& c) {
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& p : c.probes)
    probes.push_back({{"probe", p.probe}, {"passed", p.passed}, {"reason", p.reason}, {"stats", stats_json(p.stats)}});
  return {{"from_ms", c.from_ms}, {"to_ms", c.to_ms}, {"passed", c.passed}, {"summary", c.summary()}, {"probes", probes}};
}

nlohmann::json tolerance_json(const Tolerance& t) {
  return {{"min_success_ratio", t.min_success_ratio},
          {"max_p50_ms", opt(t.max_p50_ms)},
          {"max_p95_ms", opt(t.max_p95_ms)},
          {"max_p99_ms", opt(t.max_p99_ms)}};
}

nlohmann::json optms(const std::optional<Millis>& v) { return v ? nlohmann::json(v->count()) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json experiment_to_json(const Experiment& ex) {
  nlohmann::json j;
  j["name"] = ex.name;
  j["title"] = ex.title;
  j["description"] = ex.description;
  j["tags"] = ex.tags;
  j["file"] = ex.file;
  if (!ex.variables.empty()) j["variables"] = ex.variables;
  j["targets"] = nlohmann::json::array();
  for (const auto& t : ex.targets) j["targets"].push_back(to_json(t));
  j["probes"] = nlohmann::json::array();
  for (const auto& p : ex.probes)
    j["probes"].push_back({{"name", p.name},
                           {"type", p.type},
                           {"interval_ms", p.interval.count()},
                           {"timeout_ms", p.timeout.count()},
                           {"parameters", p.probe->describe()}});
  j["steady_state"] = {{"probes", ex.steady_state.probes},
                       {"window_ms", ex.steady_state.window.count()},
                       {"tolerance", tolerance_json(ex.steady_state.tolerance)}};
  auto commands = [](const std::vector<CommandSpec>& list) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : list) out.push_back(to_json(c));
    return out;
  };
  j["setup"] = commands(ex.setup);
  j["method"] = nlohmann::json::array();
  for (const auto& s : ex.method)
    j["method"].push_back({{"name", s.name},
                           {"type", s.type->name},
                           {"target", s.target.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.target)},
                           {"start_ms", s.start.count()},
                           {"duration_ms", optms(s.duration)},
                           {"parameters", s.action->describe()}});
  j["rollbacks"] = commands(ex.rollbacks);
  j["teardown"] = commands(ex.teardown);
  j["guards"] = nlohmann::json::array();
  for (const auto& g : ex.guards)
    j["guards"].push_back({{"name", g.name},
                           {"probe", g.probe},
                           {"max_failure_ratio", g.rule.max_failure_ratio},
                           {"window_ms", g.rule.window_ms},
                           {"min_samples", g.rule.min_samples}});
  j["slo"] = {{"recover_within_ms", optms(ex.slo.recover_within)},
              {"heal_within_ms", optms(ex.slo.heal_within)},
              {"stable_for_ms", ex.slo.stable_for.count()},
              {"observe_for_ms", ex.observe_for().count()},
              {"max_error_ratio", opt(ex.slo.max_error_ratio)},
              {"max_p50_ms", optms(ex.slo.max_p50)},
              {"max_p95_ms", optms(ex.slo.max_p95)},
              {"max_p99_ms", optms(ex.slo.max_p99)},
              {"max_trend_runs", ex.slo.max_trend ? nlohmann::json(*ex.slo.max_trend) : nlohmann::json()}};
  return j;
}

namespace {

nlohmann::json steps_json(const RunResult& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    nlohmann::json processes = nlohmann::json::array();
    for (const auto& p : s.processes) processes.push_back(to_json(p));
    steps.push_back({{"name", s.name},
                     {"type", s.type},
                     {"kind", to_string(s.kind)},
                     {"target", s.target},
                     {"planned_start_ms", s.planned_start_ms},
                     {"planned_duration_ms", opt(s.planned_duration_ms)},
                     {"prepared_ms", opt(s.prepared_ms)},
                     {"started_ms", opt(s.started_ms)},
                     {"applied_ms", opt(s.applied_ms)},
                     {"reverted_ms", opt(s.reverted_ms)},
                     {"ended_ms", opt(s.ended_ms)},
                     {"status", to_string(s.status)},
                     {"error", s.error},
                     {"processes", processes},
                     {"effect", s.effect ? nlohmann::json(s.effect->summary) : nlohmann::json(nullptr)},
                     {"no_effect", s.effect && !s.effect->any},
                     {"allow_no_effect", s.allow_no_effect},
                     {"detail", s.detail}});
  }
  return steps;
}

nlohmann::json commands_json(const RunResult& r) {
  nlohmann::json commands = nlohmann::json::array();
  for (const auto& c : r.commands)
    commands.push_back({{"phase", c.phase},
                        {"name", c.name},
                        {"argv", c.argv},
                        {"started_ms", c.started_ms},
                        {"ended_ms", c.ended_ms},
                        {"ok", c.ok},
                        {"summary", c.summary},
                        {"pid", c.pid ? nlohmann::json(*c.pid) : nlohmann::json(nullptr)}});
  return commands;
}

nlohmann::json metrics_json(const RunMetrics& m) {
  nlohmann::json phases = nlohmann::json::object();
  for (const auto& [name, stats] : m.phases) {
    phases[name] = stats_json(stats);
    if (auto span = m.phase_spans.find(name); span != m.phase_spans.end()) {  // an empty phase is explained by it
      phases[name]["from_ms"] = span->second.first;
      phases[name]["to_ms"] = span->second.second;
    }
  }
  nlohmann::json load_phases = nlohmann::json::object();
  for (const auto& [probe, by_phase] : m.load_phases)
    for (const auto& [name, stats] : by_phase) load_phases[probe][name] = stats_json(stats);
  nlohmann::json heals = nlohmann::json::array();
  for (const auto& h : m.step_heals)
    heals.push_back({{"step", h.step},
                     {"applied_ms", h.applied_ms},
                     {"reverted_ms", h.reverted_ms},
                     {"healed_at_ms", opt(h.healed_at_ms)},
                     {"time_to_heal_ms", opt(h.time_to_heal_ms)}});
  return {{"first_sample_ms", opt(m.first_sample_ms)},
          {"first_fault_ms", opt(m.first_fault_ms)},
          {"end_of_impact_ms", opt(m.end_of_impact_ms)},
          {"time_to_impact_ms", opt(m.time_to_impact_ms)},
          {"recovered_at_ms", opt(m.recovered_at_ms)},
          {"time_to_recover_ms", opt(m.time_to_recover_ms)},
          {"observed_after_impact_ms", opt(m.observed_ms)},
          {"first_impact_ms", opt(m.first_impact_ms)},
          {"healed_at_ms", opt(m.healed_at_ms)},
          {"time_to_heal_ms", opt(m.time_to_heal_ms)},
          {"heal_is_recovery", m.heal_is_recovery},
          {"under_fault_ms", opt(m.under_fault_ms)},
          {"steps", heals},
          {"phases", phases},
          {"load_phases", load_phases}};
}

nlohmann::json criteria_json(const RunResult& r) {
  nlohmann::json slo = nlohmann::json::array();
  for (const auto& c : r.criteria)
    slo.push_back({{"criterion", c.name},
                   {"value", opt(c.value)},
                   {"limit", c.limit},
                   {"unit", c.unit},
                   {"passed", c.passed},
                   {"measured", c.measured},
                   {"detail", c.detail}});
  return slo;
}

nlohmann::json probes_json(const RunResult& r) {
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& p : r.probes) {
    nlohmann::json samples = nlohmann::json::array();
    bool buckets = false;
    for (const auto& s : p.samples) {
      if (s.requests) buckets = true;
      else
        samples.push_back({{"t_ms", s.t_ms}, {"end_ms", s.end_ms}, {"ok", s.ok}, {"latency_ms", s.latency_ms},
                           {"reason", s.reason}});
    }
    probes.push_back({{"name", p.name}, {"samples", samples}});
    if (buckets) {  // the rows stay in the series: write_journal streams them, make_html reads them there
      probes.back()["bucket_columns"] = bucket_columns();
      probes.back()["buckets"] = nullptr;
    }
    if (!p.failed_requests.empty() || p.failed_requests_dropped) {
      nlohmann::json failed = nlohmann::json::array();
      for (const auto& s : p.failed_requests)
        failed.push_back({{"t_ms", s.t_ms}, {"end_ms", s.end_ms}, {"latency_ms", s.latency_ms}, {"reason", s.reason}});
      probes.back()["failed_requests"] = std::move(failed);
      probes.back()["failed_requests_dropped"] = p.failed_requests_dropped;
    }
  }
  return probes;
}

}  // namespace

namespace {

// Values from ${env.*} never reach a journal (nor what is rendered from it: the HTML, the history).
void mask_json_strings(nlohmann::json& j, const std::vector<std::string>& secrets) {
  if (j.is_string()) {
    j = mask_secrets(j.get<std::string>(), secrets);
  } else if (j.is_structured()) {
    for (auto& item : j) mask_json_strings(item, secrets);
  }
}

}  // namespace

nlohmann::json make_journal(const Experiment& ex, const RunResult& r) {
  nlohmann::json j;
  j["schema_version"] = kJournalSchemaVersion;
  j["rebound_version"] = rebound_version();
  j["rebound_commit"] = rebound_commit();
  j["experiment"] = experiment_to_json(ex);
  j["started_at"] = r.started_at;
  j["ended_at"] = r.ended_at;
  j["duration_ms"] = r.duration_ms;
  j["monotonic_epoch_ns"] = r.monotonic_epoch_ns;
  j["status"] = r.status;
  j["verdict"] = to_string(r.verdict);
  j["exit_code"] = exit_code(r.verdict);
  j["reasons"] = r.reasons;
  j["phases"] = nlohmann::json::array();
  for (const auto& p : r.phases) j["phases"].push_back({{"name", p.name}, {"start_ms", p.start_ms}, {"end_ms", p.end_ms}});
  j["targets"] = nlohmann::json::object();
  for (const auto& [name, processes] : r.targets) {
    j["targets"][name] = nlohmann::json::array();
    for (const auto& p : processes) j["targets"][name].push_back(to_json(p));
  }
  j["steps"] = steps_json(r);
  j["commands"] = commands_json(r);
  j["guard_events"] = nlohmann::json::array();
  for (const auto& g : r.guard_events)
    j["guard_events"].push_back(
        {{"guard", g.guard}, {"probe", g.probe}, {"t_ms", g.t_ms}, {"failure_ratio", g.failure_ratio}});
  j["steady_state"] = {{"baseline", r.baseline ? check_json(*r.baseline) : nlohmann::json(nullptr)},
                       {"after", r.after ? check_json(*r.after) : nlohmann::json(nullptr)}};
  j["metrics"] = metrics_json(r.metrics);
  j["slo"] = criteria_json(r);
  j["probes"] = probes_json(r);
  if (!ex.secrets.empty()) mask_json_strings(j, ex.secrets);
  return j;
}

std::string step_detail_line(const nlohmann::json& detail) {
  std::vector<std::string> parts;
  if (!detail.is_object()) return "";
  for (const auto& [key, value] : detail.items()) {
    if (value.is_number_integer() || value.is_number_unsigned()) {
      parts.push_back(fmt::format("{} {}", key, value.dump()));
    } else if (value.is_number_float()) {
      parts.push_back(fmt::format("{} {:.4g}", key, value.get<double>()));
    } else if (value.is_boolean()) {
      parts.push_back(fmt::format("{} {}", key, value.get<bool>() ? "yes" : "no"));
    } else if (value.is_string() && value.get<std::string>().size() <= 40) {
      parts.push_back(fmt::format("{} {}", key, value.get<std::string>()));
    }
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

namespace {

// process.stop's detail in words, after its effect line: "held 5.0 s, then resumed them (demo-service 4242,
// demo-service 4243)"; "" when it stopped none (the effect line says why).
std::string stopped_text(const nlohmann::json& detail, std::optional<double> held_ms) {
  if (!detail.is_object() || !detail.contains("stopped") || !detail["stopped"].is_array() || detail["stopped"].empty())
    return "";
  const auto& stopped = detail["stopped"];
  std::vector<std::string> names;
  for (const auto& p : stopped)
    if (p.is_object()) names.push_back(fmt::format("{} {}", p.value("comm", "?"), p.value("pid", 0)));
  std::string out = held_ms ? fmt::format("held {:.1f} s, then ", *held_ms / 1000) : "then ";
  if (!detail.contains("resumed") || !detail["resumed"].is_array()) out += "not resumed yet";
  else if (detail["resumed"].size() >= stopped.size()) out += stopped.size() == 1 ? "resumed it" : "resumed them";
  else out += fmt::format("resumed {} of them", detail["resumed"].size());
  out += fmt::format(" ({})", fmt::join(names, ", "));
  if (detail.contains("kept_frozen") && detail["kept_frozen"].is_array())
    for (const auto& k : detail["kept_frozen"])
      if (k.is_string()) out += "; " + k.get<std::string>();
  return out;
}

}  // namespace

std::string step_what_it_did(const std::string& effect, const nlohmann::json& detail, std::optional<double> held_ms) {
  std::string line = step_detail_line(detail);
  if (std::string held = stopped_text(detail, held_ms); !held.empty()) {
    const size_t n = detail["stopped"].size();
    std::string out = (effect.empty() ? fmt::format("stopped {} process{}", n, n == 1 ? "" : "es") : effect) + "; " + held;
    return line.empty() ? out : out + "; " + line;
  }
  if (effect.empty()) return line;
  return line.empty() ? effect : effect + "; " + line;
}

std::string criterion_value_text(const std::optional<double>& value, const std::string& unit, bool holds,
                                 const std::string& name) {
  if (!value && unit == "runs") return "no rising trend";
  if (!value) return name == "recover_within" ? "did not recover" : name == "heal_within" ? "did not heal" : "none";
  if (unit == "ms") return fmt::format("{:.1f} ms", *value);
  if (unit == "runs") return fmt::format("crosses the SLO in {:.0f} runs", std::ceil(*value));
  if (unit == "ratio") return fmt::format("{:.2f}%", *value * 100);
  return holds ? "holds" : "does not hold";
}

std::string criterion_limit_text(double limit, const std::string& unit) { return limit_text(limit, unit); }

std::string criterion_result_text(bool passed, bool measured) {
  return passed ? "pass" : measured ? "FAIL" : "not measured";
}

}  // namespace rebound
