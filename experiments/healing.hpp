#pragma once
// Time to heal: healing while a lasting fault is still applied (a failover), per run and per lasting step.
#include <vector>

#include "experiments/analysis.hpp"
#include "experiments/experiment.hpp"
#include "experiments/runner.hpp"

namespace rebound {

// The spans during which each lasting fault step was applied (applied -> reverted).
std::vector<FaultSpan> lasting_spans(const std::vector<StepRecord>& steps);

// Sets a phase's stats over the steady probes' samples in [from, to), and remembers the span.
void set_phase(RunMetrics& m, const std::string& name, const SeriesSet& steady, double from, double to);

// Fills the healing metrics and the `degraded` (first impact -> healed) and `healed` (healed -> end of impact)
// phases; expects first_fault_ms, end_of_impact_ms and the recovery metrics to be measured already. With only
// instant faults, time to heal is time to recover (heal_is_recovery).
void measure_heal(RunMetrics& m, const SeriesSet& steady, const std::vector<StepRecord>& steps, const Experiment& ex);

}  // namespace rebound
