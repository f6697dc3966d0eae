#pragma once
// After a run: its metrics from the step records and the probe samples, then the criteria and the verdict.
#include <optional>
#include <string>
#include <vector>

#include "experiments/runner.hpp"

namespace rebound {

// When the phases of a run began and ended (ms on the run's clock).
struct RunTimes {
  double baseline_start = 0, method_start = 0, recovery_end = 0, after_start = 0, end = 0;
};

// What went wrong during a run, beyond what the criteria judge.
struct RunTroubles {
  bool setup_error = false, step_error = false, guard_tripped = false;
  int interrupted_by = 0;  // the signal, or 0
};

// The probes the steady state watches (every probe when the file names none: the loader fills the list).
bool is_steady(const Experiment& ex, const std::string& probe);
SeriesSet steady_series(const Experiment& ex, const std::vector<ProbeSeries>& all);

// The end of impact as the step records say: the last revert of a lasting fault or the last instant fault;
// nullopt when no fault was applied.
std::optional<double> end_of_impact(const std::vector<StepRecord>& steps);

// Fills result.metrics from result.steps and result.probes.
void measure_run(RunResult& result, const Experiment& ex, const RunTimes& times);
// Adds the criteria to result and sets its verdict, status and reasons.
void judge_run(RunResult& result, const Experiment& ex, const RunTroubles& troubles);

}  // namespace rebound
