#include "reports/metrics.hpp"

#include <chrono>
#include <fmt/format.h>
#include <map>

namespace rebound {

namespace {

// Label values escape backslash, double quote and newline (text format 0.0.4).
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

struct Family {
  std::string help, type;
  std::vector<std::string> lines;
};

}  // namespace

std::string make_prometheus_metrics(const std::vector<nlohmann::json>& journals) {
  std::vector<std::pair<std::string, Family>> families = {
      {"rebound_experiment_verdict", {"1 for the verdict of the experiment's last run", "gauge", {}}},
      {"rebound_experiment_exit_code", {"Exit code of the experiment's last run", "gauge", {}}},
      {"rebound_experiment_duration_seconds", {"How long the run took", "gauge", {}}},
      {"rebound_time_to_impact_seconds", {"First fault to the first failed steady-state sample", "gauge", {}}},
      {"rebound_time_to_recover_seconds", {"End of impact to recovery (absent if it never recovered)", "gauge", {}}},
      {"rebound_time_to_heal_seconds",
       {"First fault to healing while a lasting fault was still applied (absent if it never healed)", "gauge", {}}},
      {"rebound_step_time_to_heal_seconds", {"Per lasting fault step: its apply to healing under it", "gauge", {}}},
      {"rebound_phase_error_ratio", {"Failed share of steady-state samples per phase", "gauge", {}}},
      {"rebound_phase_latency_seconds", {"Steady-state probe latency per phase (nearest rank)", "gauge", {}}},
      {"rebound_slo_criterion_passed", {"1 if the SLO criterion was met", "gauge", {}}},
      {"rebound_slo_criterion_value", {"Measured value of the SLO criterion (seconds or ratio)", "gauge", {}}},
      {"rebound_last_run_timestamp_seconds", {"When the metrics were written", "gauge", {}}},
  };
  auto add = [&](const std::string& family, const std::string& labels, double value) {
    for (auto& [name, f] : families)
      if (name == family) f.lines.push_back(fmt::format("{}{{{}}} {}", name, labels, value));
  };
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& j : journals) {
    const std::string e = fmt::format("experiment=\"{}\"", label(j["experiment"].value("name", "")));
    for (const char* v : {"passed", "failed", "inconclusive", "aborted", "error"})
      add("rebound_experiment_verdict", fmt::format("{},verdict=\"{}\"", e, v), j.value("verdict", "") == v ? 1 : 0);
    add("rebound_experiment_exit_code", e, j.value("exit_code", 4));
    add("rebound_experiment_duration_seconds", e, j.value("duration_ms", 0.0) / 1000);
    const auto& m = j["metrics"];
    if (m["time_to_impact_ms"].is_number()) add("rebound_time_to_impact_seconds", e, m["time_to_impact_ms"].get<double>() / 1000);
    if (m["time_to_recover_ms"].is_number())
      add("rebound_time_to_recover_seconds", e, m["time_to_recover_ms"].get<double>() / 1000);
    if (m.contains("time_to_heal_ms") && m["time_to_heal_ms"].is_number())
      add("rebound_time_to_heal_seconds", e, m["time_to_heal_ms"].get<double>() / 1000);
    if (m.contains("steps"))
      for (const auto& h : m["steps"])
        if (h.contains("time_to_heal_ms") && h["time_to_heal_ms"].is_number())
          add("rebound_step_time_to_heal_seconds", fmt::format("{},step=\"{}\"", e, label(h.value("step", ""))),
              h["time_to_heal_ms"].get<double>() / 1000);
    for (const auto& [phase, s] : m["phases"].items()) {
      std::string p = fmt::format("{},phase=\"{}\"", e, label(phase));
      add("rebound_phase_error_ratio", p, s.value("error_ratio", 0.0));
      for (auto [q, key] : {std::pair{"0.5", "p50_ms"}, {"0.95", "p95_ms"}, {"0.99", "p99_ms"}})
        if (s[key].is_number()) add("rebound_phase_latency_seconds", fmt::format("{},quantile=\"{}\"", p, q), s[key].get<double>() / 1000);
    }
    for (const auto& c : j["slo"]) {
      std::string l = fmt::format("{},criterion=\"{}\"", e, label(c.value("criterion", "")));
      add("rebound_slo_criterion_passed", l, c.value("passed", false) ? 1 : 0);
      if (c["value"].is_number())
        add("rebound_slo_criterion_value", l, c["value"].get<double>() / (c.value("unit", "") == "ms" ? 1000 : 1));
    }
    add("rebound_last_run_timestamp_seconds", e, now);
  }
  std::string out;
  for (const auto& [name, f] : families) {
    if (f.lines.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& line : f.lines) out += line + "\n";
  }
  return out;
}

}  // namespace rebound
