#include "experiments/healing.hpp"

#include <algorithm>

namespace rebound {

std::vector<FaultSpan> lasting_spans(const std::vector<StepRecord>& steps) {
  std::vector<FaultSpan> out;
  for (const auto& s : steps)
    if (s.kind == StepKind::lasting_fault && s.applied_ms && s.reverted_ms && *s.reverted_ms > *s.applied_ms)
      out.push_back({*s.applied_ms, *s.reverted_ms});
  return out;
}

namespace {

// The length of the union of the spans.
double union_length(std::vector<FaultSpan> spans) {
  std::sort(spans.begin(), spans.end(), [](const FaultSpan& a, const FaultSpan& b) { return a.from < b.from; });
  double total = 0, end = -1e300;
  for (const auto& s : spans) {
    if (s.to <= end) continue;
    total += s.to - std::max(s.from, end);
    end = s.to;
  }
  return total;
}

void measure_steps(RunMetrics& m, const SeriesSet& steady, const std::vector<StepRecord>& steps, const Experiment& ex) {
  for (const auto& s : steps) {
    if (s.kind != StepKind::lasting_fault || !s.applied_ms || !s.reverted_ms) continue;
    StepHeal h{s.name, *s.applied_ms, *s.reverted_ms, std::nullopt, std::nullopt};
    h.healed_at_ms = find_heal(steady, h.applied_ms, {{h.applied_ms, h.reverted_ms}},
                               static_cast<double>(ex.slo.stable_for.count()), ex.steady_state.tolerance);
    if (h.healed_at_ms) h.time_to_heal_ms = *h.healed_at_ms - h.applied_ms;
    m.step_heals.push_back(std::move(h));
  }
}

}  // namespace

void set_phase(RunMetrics& m, const std::string& name, const SeriesSet& steady, double from, double to) {
  m.phases[name] = phase_stats(steady, from, to);
  m.phase_spans[name] = {from, to};
}

void measure_heal(RunMetrics& m, const SeriesSet& steady, const std::vector<StepRecord>& steps, const Experiment& ex) {
  if (!m.first_fault_ms || !m.end_of_impact_ms) return;
  const double first = *m.first_fault_ms, eoi = *m.end_of_impact_ms;
  auto spans = lasting_spans(steps);
  m.first_impact_ms = m.time_to_impact_ms ? std::optional<double>(first + *m.time_to_impact_ms) : std::nullopt;
  if (spans.empty()) {
    // An instant fault (a kill) has no "while it is applied": healing is recovering.
    m.heal_is_recovery = true;
    m.healed_at_ms = m.recovered_at_ms;
    m.time_to_heal_ms = m.time_to_recover_ms;
    if (m.first_impact_ms)
      set_phase(m, "degraded", steady, *m.first_impact_ms, m.recovered_at_ms.value_or(*m.first_impact_ms));
    return;
  }
  m.under_fault_ms = union_length(spans);
  m.healed_at_ms = find_heal(steady, first, spans, static_cast<double>(ex.slo.stable_for.count()),
                             ex.steady_state.tolerance);
  if (m.healed_at_ms) m.time_to_heal_ms = *m.healed_at_ms - first;
  measure_steps(m, steady, steps, ex);
  const double degraded_from = m.first_impact_ms.value_or(first);
  const double degraded_to = m.healed_at_ms.value_or(eoi);
  if (degraded_to > degraded_from) set_phase(m, "degraded", steady, degraded_from, degraded_to);
  if (m.healed_at_ms && eoi > *m.healed_at_ms) set_phase(m, "healed", steady, *m.healed_at_ms, eoi);
}

}  // namespace rebound
