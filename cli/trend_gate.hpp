#pragma once
// slo.max_trend: fails a run when time to recover (or to heal) has been rising over the experiment's recent runs
// and, at that rate, crosses its SLO within the declared number of runs: a slow regression stops the pipeline
// before any single run fails.
#include "experiments/runner.hpp"
#include "history/history.hpp"

namespace rebound {

// How many recorded runs (with this one) a trend is fitted over, for the gate and `rebound history --trend`.
constexpr int kTrendRuns = 20;

// Judges this run (not yet recorded) with the experiment's recent runs; a passed verdict becomes failed.
void apply_trend_gate(History& history, const Experiment& ex, RunResult& r);

// The gate's criterion for one measure, from the values oldest first (this run's last); none without a trend fit.
std::optional<Criterion> trend_criterion(const std::string& measure, const std::vector<double>& values,
                                         const std::string& slo_name, double slo_ms, int within_runs);

}  // namespace rebound
