#include "experiments/verdict.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "experiments/healing.hpp"
#include "system/signals.hpp"

namespace rebound {

bool is_steady(const Experiment& ex, const std::string& probe) {
  const auto& names = ex.steady_state.probes;
  return std::find(names.begin(), names.end(), probe) != names.end();
}

SeriesSet steady_series(const Experiment& ex, const std::vector<ProbeSeries>& all) {
  SeriesSet out;
  for (const auto& s : all)
    if (is_steady(ex, s.name)) out.push_back(&s);
  return out;
}

namespace {

// Where a step's impact window begins and ends: a fault's from its apply to its revert (its apply when instant), a
// change's over the whole run of its command, for a switch disturbs users while it runs.
std::optional<double> impact_begins(const StepRecord& s) {
  return s.kind == StepKind::change && s.applied_ms ? s.started_ms : s.applied_ms;
}
double impact_ends(const StepRecord& s) {
  return s.kind == StepKind::change ? s.ended_ms.value_or(*s.applied_ms) : s.reverted_ms.value_or(*s.applied_ms);
}

}  // namespace

std::optional<double> end_of_impact(const std::vector<StepRecord>& steps) {
  std::optional<double> latest;
  for (const auto& s : steps)
    if (is_fault(s.kind) && s.applied_ms) latest = std::max(latest.value_or(0), impact_ends(s));
  return latest;
}

void measure_run(RunResult& result, const Experiment& ex, const RunTimes& t) {
  auto& m = result.metrics;
  SeriesSet steady = steady_series(ex, result.probes);
  for (const auto& p : result.probes)
    if (!p.samples.empty() && (!m.first_sample_ms || p.samples.front().t_ms < *m.first_sample_ms))
      m.first_sample_ms = p.samples.front().t_ms;
  for (const auto& s : result.steps)
    if (auto begins = impact_begins(s); is_fault(s.kind) && begins)
      m.first_fault_ms = std::min(m.first_fault_ms.value_or(*begins), *begins);
  m.end_of_impact_ms = end_of_impact(result.steps);
  if (m.first_fault_ms) {
    if (auto impact = find_impact(steady, *m.first_fault_ms, t.recovery_end))
      m.time_to_impact_ms = *impact - *m.first_fault_ms;
    m.observed_ms = t.recovery_end - *m.end_of_impact_ms;
    m.recovered_at_ms = find_recovery(steady, *m.end_of_impact_ms, ex.slo.stable_for.count());
    if (m.recovered_at_ms) m.time_to_recover_ms = *m.recovered_at_ms - *m.end_of_impact_ms;
    double recovered_or_end = m.recovered_at_ms.value_or(t.recovery_end);
    set_phase(m, "fault", steady, *m.first_fault_ms, *m.end_of_impact_ms);
    set_phase(m, "recovery", steady, *m.end_of_impact_ms, recovered_or_end);
    set_phase(m, "impact", steady, *m.first_fault_ms, recovered_or_end);
    measure_heal(m, steady, result.steps, ex);
  }
  if (t.method_start > t.baseline_start) set_phase(m, "baseline", steady, t.baseline_start, t.method_start);
  if (t.end > t.after_start) set_phase(m, "after", steady, t.after_start, t.end);
  // Each load probe's own requests over the same phases (the combined phases mix every steady probe).
  for (const auto& p : result.probes) {
    if (std::none_of(p.samples.begin(), p.samples.end(), [](const Sample& s) { return s.requests != nullptr; }))
      continue;
    for (const auto& [name, span] : m.phase_spans) m.load_phases[p.name][name] = phase_stats({&p}, span.first, span.second);
  }
}

namespace {

// When the run stopped early: "interrupted after 1.2 s" (by the start of teardown, where stopping began).
std::string stopped_text(const RunResult& result, const RunTroubles& troubles) {
  double at = result.phases.empty() ? 0 : result.phases.back().end_ms;
  for (const auto& p : result.phases)
    if (p.name == "teardown") at = p.start_ms;
  return fmt::format("run {} after {:.1f} s", troubles.interrupted_by ? "interrupted" : "stopped by a guard",
                     at / 1000);
}

// A run stopped early leaves what it had not yet seen unmeasured: neither a pass nor a FAIL. What was measured
// over an impact the stop cut short (error ratio, percentiles before recovery) says it is partial.
void mark_unmeasured(RunResult& result, const RunTroubles& troubles) {
  if (!troubles.interrupted_by && !troubles.guard_tripped) return;
  const std::string why = stopped_text(result, troubles);
  for (auto& c : result.criteria) {
    const bool over_impact = c.name == "max_error_ratio" || c.name.starts_with("max_p");
    if (c.value && over_impact && !result.metrics.recovered_at_ms) c.detail += fmt::format(" (partial: {})", why);
    if (c.value || c.passed) continue;
    c.measured = false;
    c.detail = c.name == "steady_state.after" ? fmt::format("not measured ({}): stopped before the after window", why)
                                              : fmt::format("not measured ({})", why);
  }
}

// A failed max_error_ratio names the causes of the load probes' failed requests in the impact phase, so that a
// pipeline's message says what users got ("status 503 not in [200] × 64").
void name_failure_causes(RunResult& result, const Experiment& ex) {
  auto span = result.metrics.phase_spans.find("impact");
  if (span == result.metrics.phase_spans.end()) return;
  std::vector<std::string> reasons;
  for (const ProbeSeries* p : steady_series(ex, result.probes))  // the probes max_error_ratio judges
    for (const auto& s : p->failed_requests)
      if (s.t_ms >= span->second.first && s.t_ms < span->second.second) reasons.push_back(s.reason);
  if (reasons.empty()) return;
  for (auto& c : result.criteria)
    if (c.name == "max_error_ratio" && !c.passed) c.detail += "; failed requests by cause: " + failure_causes_text(reasons, 0);
}

void add_criteria(RunResult& result, const Experiment& ex, const RunTroubles& troubles) {
  if (result.baseline) {
    result.criteria.push_back({"steady_state.baseline", result.baseline->passed ? 1.0 : 0.0, 1, "pass",
                               result.baseline->passed, result.baseline->summary()});
  }
  if (!result.baseline || !result.baseline->passed || troubles.setup_error || troubles.step_error) return;
  for (auto& c : evaluate_slo(ex.slo, result.metrics, result.metrics.first_fault_ms.has_value()))
    result.criteria.push_back(std::move(c));
  name_failure_causes(result, ex);
  if (result.after)
    result.criteria.push_back({"steady_state.after", result.after->passed ? 1.0 : 0.0, 1, "pass",
                               result.after->passed, result.after->summary()});
  else if (troubles.interrupted_by || troubles.guard_tripped)
    result.criteria.push_back({"steady_state.after", std::nullopt, 1, "pass", false,
                               "not checked: the experiment was stopped before the after window"});
  mark_unmeasured(result, troubles);
}

// The faults that ran to their end and reached nothing, unless they allow it: "step cut-db affected 0 of 0 ...".
std::vector<std::string> vacuous_steps(const RunResult& result) {
  std::vector<std::string> out;
  for (const auto& s : result.steps)
    if (is_fault(s.kind) && s.status == StepStatus::done && s.effect && !s.effect->any && !s.allow_no_effect)
      out.push_back(fmt::format("step {} {}", s.name, s.effect->summary));
  return out;
}

}  // namespace

void judge_run(RunResult& result, const Experiment& ex, const RunTroubles& troubles) {
  add_criteria(result, ex, troubles);
  Verdict v = Verdict::passed;
  if (troubles.setup_error || troubles.step_error) {
    v = Verdict::error;
    result.status = "error";
    for (const auto& s : result.steps)
      if (s.status == StepStatus::error)
        result.reasons.push_back(fmt::format("step '{}' ({}): {}", s.name, s.type, s.error));
  } else if (troubles.interrupted_by) {
    v = Verdict::aborted;
    result.status = "interrupted";
    result.reasons.push_back(fmt::format("interrupted by {}; every applied fault was reverted",
                                         signal_name(troubles.interrupted_by)));
  } else if (result.baseline && !result.baseline->passed) {
    v = Verdict::inconclusive;
    result.status = "completed";
    result.reasons.push_back("baseline steady state not met, nothing was injected: " + result.baseline->summary());
  } else if (troubles.guard_tripped) {
    v = Verdict::aborted;
    result.status = "aborted";
  } else {
    for (const auto& c : result.criteria)
      if (!c.passed) {
        v = Verdict::failed;
        result.reasons.push_back(fmt::format("{}: {}", c.name, c.detail));
      }
    // A pass that nothing was tested by is no pass: the fault reached nothing, so the criteria say nothing.
    if (v == Verdict::passed)
      for (auto& reason : vacuous_steps(result)) {
        v = Verdict::inconclusive;
        result.reasons.push_back(std::move(reason) + " (set allow_no_effect = true on the step if that is expected)");
      }
  }
  result.verdict = v;
}

}  // namespace rebound
