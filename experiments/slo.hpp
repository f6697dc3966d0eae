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

// Healing under one lasting fault step: from its apply to the first stable span before its revert.
struct StepHeal {
  std::string step;
  double applied_ms = 0, reverted_ms = 0;
  std::optional<double> healed_at_ms, time_to_heal_ms;
};

struct RunMetrics {
  std::optional<double> first_fault_ms, end_of_impact_ms;
  std::optional<double> time_to_impact_ms, recovered_at_ms, time_to_recover_ms;
  std::optional<double> first_sample_ms;
  std::optional<double> observed_ms;  // how long recovery was watched after the end of impact
  // Healing while a lasting fault is still applied (time to heal: first fault -> healed_at).
  std::optional<double> first_impact_ms, healed_at_ms, time_to_heal_ms;
  bool heal_is_recovery = false;      // only instant faults: time to heal is time to recover
  std::optional<double> under_fault_ms;  // how long lasting faults were applied (their union), for the reasons
  std::vector<StepHeal> step_heals;      // per lasting fault step
  std::map<std::string, PhaseStats> phases;  // baseline, fault, degraded, healed, recovery, after, impact
  std::map<std::string, std::pair<double, double>> phase_spans;  // each phase's [from, to)
  // Per load probe (by name), the same phases over its own requests: what its users saw.
  std::map<std::string, std::map<std::string, PhaseStats>> load_phases;
};

// A limit as every report writes it: "≤ 3000 ms", "≤ 250.5 ms", "≤ 1.00%"; "holds" for a steady-state check.
std::string limit_text(double limit, const std::string& unit);

// The SLO criteria for measured metrics.
std::vector<Criterion> evaluate_slo(const SloSpec& slo, const RunMetrics& metrics, bool faults_applied);

// Against a baseline run's time to recover: passes while recovery is at most (1 + margin) x the baseline's.
Criterion regression_criterion(double time_to_recover_ms, double baseline_ms, int64_t baseline_run, double margin);
// The same for time to heal ("regression.time_to_heal").
Criterion heal_regression_criterion(double time_to_heal_ms, double baseline_ms, int64_t baseline_run, double margin);

}  // namespace rebound
