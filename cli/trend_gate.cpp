#include "cli/trend_gate.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <iostream>

#include "history/trend.hpp"

namespace rebound {

std::optional<Criterion> trend_criterion(const std::string& measure, const std::vector<double>& values,
                                         const std::string& slo_name, double slo_ms, int within_runs) {
  auto fit = fit_trend(values);
  if (!fit) return std::nullopt;
  Criterion c;
  c.name = "trend." + measure;
  c.unit = "runs";
  c.limit = within_runs;
  std::string what = measure == "time_to_recover" ? "time to recover" : "time to heal";
  c.value = fit->runs_until(slo_ms);
  c.passed = !c.value || *c.value > within_runs;
  c.detail = describe_trend(*fit, what, slo_name, slo_ms) +
             fmt::format("; limit: not within {} run{}", within_runs, within_runs == 1 ? "" : "s");
  return c;
}

namespace {

// One measure over the recent runs, oldest first, and this run's value last; runs without the measure are left out.
std::vector<double> recent_values(const std::vector<HistoryRow>& newest_first, std::optional<double> HistoryRow::*measure,
                                  std::optional<double> now) {
  std::vector<double> values;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it)
    if ((*it).*measure) values.push_back(*((*it).*measure));
  if (now) values.push_back(*now);
  return values;
}

}  // namespace

void apply_trend_gate(History& history, const Experiment& ex, RunResult& r) {
  if (!ex.slo.max_trend) return;
  auto rows = history.runs(ex.name, kTrendRuns - 1);
  if (!rows) {
    std::cerr << "error: " << rows.error().message << "\n";
    return;
  }
  auto judge = [&](const std::string& measure, std::optional<double> HistoryRow::*column, std::optional<double> now,
                   const std::string& slo_name, std::optional<Millis> slo) {
    if (!slo) return;
    auto values = recent_values(*rows, column, now);
    auto c = trend_criterion(measure, values, slo_name, static_cast<double>(slo->count()), *ex.slo.max_trend);
    if (!c) {
      std::cerr << fmt::format("note: max_trend: {} run(s) of {} with a {} so far; a trend needs {}\n", values.size(),
                               ex.name, measure == "time_to_recover" ? "time to recover" : "time to heal",
                               TrendFit::kMinRuns);
      return;
    }
    if (!c->passed && r.verdict == Verdict::passed) {
      r.verdict = Verdict::failed;
      r.reasons.push_back(fmt::format("{}: {}", c->name, c->detail));
    }
    r.criteria.push_back(std::move(*c));
  };
  judge("time_to_recover", &HistoryRow::time_to_recover_ms, r.metrics.time_to_recover_ms, "recover_within",
        ex.slo.recover_within);
  if (!r.metrics.heal_is_recovery)
    judge("time_to_heal", &HistoryRow::time_to_heal_ms, r.metrics.time_to_heal_ms, "heal_within", ex.slo.heal_within);
}

}  // namespace rebound
