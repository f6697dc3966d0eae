#include "experiments/slo.hpp"

#include <cmath>
#include <fmt/format.h>

namespace rebound {

std::string limit_text(double limit, const std::string& unit) {
  if (unit == "ms")
    return limit == std::floor(limit) ? fmt::format("≤ {:.0f} ms", limit) : fmt::format("≤ {:.1f} ms", limit);
  if (unit == "ratio") return fmt::format("≤ {:.2f}%", limit * 100);
  if (unit == "runs") return fmt::format("not within {:.0f} runs", limit);  // slo.max_trend
  return "holds";
}

namespace {

// heal_within: time to heal under a lasting fault, or time to recover when every fault was instant.
Criterion heal_criterion(const SloSpec& slo, const RunMetrics& m) {
  Criterion c{"heal_within", m.time_to_heal_ms, slo.heal_within->count(), "ms", false, ""};
  const std::string limit = limit_text(c.limit, "ms");
  if (m.time_to_heal_ms) {
    c.passed = *m.time_to_heal_ms <= c.limit;
    c.detail = m.heal_is_recovery
                   ? fmt::format("healed {:.0f} ms after the fault: the faults were instant, so time to heal is time "
                                 "to recover; limit {}",
                                 *m.time_to_heal_ms, limit)
                   : fmt::format("healed {:.0f} ms after the first fault, while the fault was still applied; limit {}",
                                 *m.time_to_heal_ms, limit);
  } else if (m.heal_is_recovery) {
    c.detail = fmt::format("did not heal: the faults were instant and the steady state never held for {} in the "
                           "{:.1f}s watched after them; limit {}",
                           format_duration(slo.stable_for), m.observed_ms.value_or(0) / 1000, limit);
  } else {
    const double lasted = m.under_fault_ms.value_or(0);
    c.detail = fmt::format("did not heal under the fault: the steady state never held for {} while a lasting fault "
                           "was applied (the fault lasted {:.1f}s); limit {}",
                           format_duration(slo.stable_for), lasted / 1000, limit);
    if (lasted < static_cast<double>((*slo.heal_within + slo.stable_for).count()))
      c.detail += fmt::format("; the fault was shorter than heal_within + stable_for ({}): lengthen it to see healing",
                              format_duration(*slo.heal_within + slo.stable_for));
  }
  return c;
}

}  // namespace

std::vector<Criterion> evaluate_slo(const SloSpec& slo, const RunMetrics& m, bool faults_applied) {
  std::vector<Criterion> out;
  if (slo.recover_within && faults_applied) {
    Criterion c{"recover_within", m.time_to_recover_ms, slo.recover_within->count(), "ms", false, ""};
    if (!m.time_to_recover_ms) {
      c.detail = fmt::format("did not recover: the steady state never held for {} in the {:.1f}s watched after the "
                             "end of impact; limit {}",
                             format_duration(slo.stable_for), m.observed_ms.value_or(0) / 1000,
                             limit_text(c.limit, "ms"));
    } else {
      c.passed = *m.time_to_recover_ms <= c.limit;
      c.detail = fmt::format("recovered {:.0f} ms after the end of impact; limit {}", *m.time_to_recover_ms,
                             limit_text(c.limit, "ms"));
    }
    out.push_back(c);
  }
  if (slo.heal_within && faults_applied) out.push_back(heal_criterion(slo, m));
  auto impact = m.phases.find("impact");
  const PhaseStats* stats = impact == m.phases.end() ? nullptr : &impact->second;
  if (slo.max_error_ratio && faults_applied && stats) {
    Criterion c{"max_error_ratio", stats->error_ratio, *slo.max_error_ratio, "ratio", false, ""};
    c.passed = stats->error_ratio <= c.limit + 1e-12;
    c.detail = fmt::format("{} of {} {} failed from the first fault to recovery ({:.2f}%); limit {}",
                           stats->failures, stats->samples, counted(*stats), stats->error_ratio * 100,
                           limit_text(c.limit, "ratio"));
    out.push_back(c);
  }
  auto latency = [&](const char* name, const std::optional<Millis>& limit, const std::optional<double>& value) {
    if (!limit || !faults_applied || !stats) return;
    Criterion c{name, value, limit->count(), "ms", false, ""};
    c.passed = !value || *value <= c.limit;
    c.detail = value ? fmt::format("{:.1f} ms from the first fault to recovery; limit {}", *value, limit_text(c.limit, "ms"))
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

namespace {
// "regression.time_to_X": the run's time against its baseline's, with the allowed margin.
Criterion time_regression(const char* metric, const char* verb, double ms, double baseline_ms, int64_t baseline_run,
                          double margin) {
  Criterion c{fmt::format("regression.{}", metric), ms, baseline_ms * (1 + margin), "ms", false, ""};
  c.passed = ms <= c.limit;
  c.detail = fmt::format("{} in {:.0f} ms; baseline run {} {} in {:.0f} ms; limit {} (+{:.0f}%)", verb, ms,
                         baseline_run, verb, baseline_ms, limit_text(c.limit, "ms"), margin * 100);
  return c;
}
}  // namespace

Criterion regression_criterion(double ttr, double baseline_ms, int64_t baseline_run, double margin) {
  return time_regression("time_to_recover", "recovered", ttr, baseline_ms, baseline_run, margin);
}

Criterion heal_regression_criterion(double tth, double baseline_ms, int64_t baseline_run, double margin) {
  return time_regression("time_to_heal", "healed", tth, baseline_ms, baseline_run, margin);
}

}  // namespace rebound
