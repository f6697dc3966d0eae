#pragma once
// Runs one validated experiment: setup, targets, baseline, method timeline, revert, rollbacks,
// recovery, steady state after, teardown; and computes the verdict.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/analysis.hpp"
#include "experiments/experiment.hpp"
#include "experiments/slo.hpp"

namespace rebound {

struct RunOptions {
  std::string output_dir;  // this experiment's report folder (setup logs go here too)
  std::string state_dir;   // where fault records are written
  bool live_progress = false;
};

struct StepRecord {
  std::string name, type;
  StepKind kind = StepKind::action;
  std::string target;
  double planned_start_ms = 0;
  std::optional<double> planned_duration_ms;
  std::optional<double> prepared_ms;  // a step that prepares: when it was ready, switched off, before the method
  std::optional<double> started_ms, applied_ms, reverted_ms, ended_ms;
  StepStatus status = StepStatus::pending;
  std::string error;
  nlohmann::json detail = nlohmann::json::object();
  std::optional<StepEffect> effect;  // what it reached, in one line; none when the step did not run
  bool allow_no_effect = false;      // the step says a fault that reaches nothing is fine
  std::vector<ProcessInfo> processes;
};

struct CommandRecord {
  std::string phase;  // setup, rollback, teardown
  std::string name;
  std::vector<std::string> argv;
  double started_ms = 0, ended_ms = 0;
  bool ok = false;
  std::string summary;
  std::optional<int> pid;  // background commands
};

struct GuardEvent {
  std::string guard, probe;
  double t_ms = 0;
  double failure_ratio = 0;
};

struct PhaseSpan {
  std::string name;
  double start_ms = 0, end_ms = 0;
};

struct RunResult {
  Verdict verdict = Verdict::error;
  std::string status = "completed";  // completed, aborted, interrupted, error
  std::vector<std::string> reasons;  // why the verdict is not passed, for people
  std::string started_at, ended_at;  // ISO 8601 UTC
  int64_t monotonic_epoch_ns = 0;    // CLOCK_MONOTONIC at t = 0 ms, to line the journal up with other tools
  double duration_ms = 0;
  std::vector<PhaseSpan> phases;
  std::map<std::string, std::vector<ProcessInfo>> targets;
  std::vector<StepRecord> steps;
  std::vector<CommandRecord> commands;
  std::vector<GuardEvent> guard_events;
  std::vector<ProbeSeries> probes;
  std::optional<SteadyStateCheck> baseline, after;
  RunMetrics metrics;
  std::vector<Criterion> criteria;
};

RunResult run_experiment(const Experiment& experiment, const RunOptions& options);

std::string iso8601_now();

}  // namespace rebound
