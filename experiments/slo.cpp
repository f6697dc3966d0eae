#include "experiments/slo.hpp"

#include <fmt/format.h>

namespace rebound {

std::vector<Criterion> evaluate_slo(const SloSpec& slo, const RunMetrics& m, bool faults_applied) {
  std::vector<Criterion> out;
  if (slo.recover_within && faults_applied) {
    Criterion c{"recover_within", m.time_to_recover_ms, slo.recover_within->count(), "ms", false, ""};
    if (!m.time_to_recover_ms) {
      c.detail = fmt::format("did not recover: the steady state never held for {} in the {:.1f}s watched after the "
                             "end of impact; limit {}",
                             format_duration(slo.stable_for), m.observed_ms.value_or(0) / 1000,
                             format_duration(*slo.recover_within));
    } else {
      c.passed = *m.time_to_recover_ms <= c.limit;
      c.detail = fmt::format("recovered {:.0f} ms after the end of impact; limit {:.0f} ms", *m.time_to_recover_ms,
                             c.limit);
    }
    out.push_back(c);
  }
  auto impact = m.phases.find("impact");
  const PhaseStats* stats = impact == m.phases.end() ? nullptr : &impact->second;
  if (slo.max_error_ratio && faults_applied && stats) {
    Criterion c{"max_error_ratio", stats->error_ratio, *slo.max_error_ratio, "ratio", false, ""};
    c.passed = stats->error_ratio <= c.limit + 1e-12;
    c.detail = fmt::format("{} of {} samples failed from the first fault to recovery ({:.2f}%); limit {:.2f}%",
                           stats->failures, stats->samples, stats->error_ratio * 100, c.limit * 100);
    out.push_back(c);
  }
  auto latency = [&](const char* name, const std::optional<Millis>& limit, const std::optional<double>& value) {
    if (!limit || !faults_applied || !stats) return;
    Criterion c{name, value, limit->count(), "ms", false, ""};
    c.passed = !value || *value <= c.limit;
    c.detail = value ? fmt::format("{:.1f} ms from the first fault to recovery; limit {:.1f} ms", *value, c.limit)
                     : "no samples";
    out.push_back(c);
  };
  if (stats) {
    latency("max_p50", slo.max_p50, stats->p50);
    latency("max_p95", slo.max_p95, stats->p95);
    latency("max_p99", slo.max_p99, stats->p99);
  }
  return out;
}

Criterion regression_criterion(double ttr, double baseline_ms, int64_t baseline_run, double margin) {
  Criterion c{"regression.time_to_recover", ttr, baseline_ms * (1 + margin), "ms", false, ""};
  c.passed = ttr <= c.limit;
  c.detail = fmt::format("recovered in {:.0f} ms; baseline run {} recovered in {:.0f} ms, allowed up to {:.0f} ms (+{:.0f}%)",
                         ttr, baseline_run, baseline_ms, c.limit, margin * 100);
  return c;
}

}  // namespace rebound
