#pragma once
// A run's measured metrics and the SLO criteria that judge them (pure, for the runner, tests and reports).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/analysis.hpp"
#include "experiments/experiment.hpp"

namespace rebound {

struct RunMetrics {
  std::optional<double> first_fault_ms, end_of_impact_ms;
  std::optional<double> time_to_impact_ms, recovered_at_ms, time_to_recover_ms;
  std::optional<double> first_sample_ms;
  std::optional<double> observed_ms;  // how long recovery was watched after the end of impact
  std::map<std::string, PhaseStats> phases;  // baseline, fault, recovery, after, impact
};

// The SLO criteria for measured metrics.
std::vector<Criterion> evaluate_slo(const SloSpec& slo, const RunMetrics& metrics, bool faults_applied);

// Against a baseline run's time to recover: passes while recovery is at most (1 + margin) x the baseline's.
Criterion regression_criterion(double time_to_recover_ms, double baseline_ms, int64_t baseline_run, double margin);

}  // namespace rebound
