#pragma once
// The experiment as validated: typed structs only, no TOML past the loader.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "experiments/analysis.hpp"
#include "config/command_spec.hpp"
#include "config/duration.hpp"
#include "system/targets.hpp"
#include "injectors/registry.hpp"
#include "probes/probe.hpp"

namespace rebound {

struct ProbeDecl {
  std::string name;
  std::string type;
  Millis interval{1000};
  Millis timeout{1000};
  std::shared_ptr<Probe> probe;
};

struct SteadyStateSpec {
  std::vector<std::string> probes;  // names; every probe when the file names none
  Millis window{2000};              // how long the baseline and the after-check sample
  Tolerance tolerance;
};

// How the journal and the reports name a step's kind: "fault" (instant or lasting) or "action".
inline const char* to_string(StepKind kind) {
  return kind == StepKind::action ? "action" : kind == StepKind::change ? "change" : "fault";
}
inline bool is_fault(StepKind kind) { return kind != StepKind::action; }

// Where a step of a run got to; the journal and the reports print to_string of it.
enum class StepStatus { pending, done, error, skipped, interrupted };
inline const char* to_string(StepStatus status) {
  switch (status) {
    case StepStatus::pending: return "pending";
    case StepStatus::done: return "done";
    case StepStatus::error: return "error";
    case StepStatus::skipped: return "skipped";
    case StepStatus::interrupted: return "interrupted";
  }
  return "pending";
}

struct StepDecl {
  std::string name;
  const StepType* type = nullptr;
  std::string target;  // a TargetSpec name, or ""
  Millis start{0};
  std::optional<Millis> duration;
  bool allow_no_effect = false;  // a fault that reached nothing does not make the run inconclusive
  // A lasting fault on a process target extends itself to the target's new processes while it lasts
  // (experiments/runner_follow.cpp): on by default wherever the step type and the target allow it.
  bool follow = false;
  Millis follow_interval{200};  // how often the target is resolved again while following
  std::shared_ptr<StepAction> action;
};

struct GuardSpec {
  std::string name;
  std::string probe;
  GuardRule rule;
};

struct SloSpec {
  std::optional<Millis> recover_within;
  std::optional<Millis> heal_within;  // the failover SLO: time to heal while a lasting fault is still applied
  Millis stable_for{1000};
  std::optional<Millis> observe_for;  // how long to wait for recovery; default 2 x recover_within + stable_for
  std::optional<double> max_error_ratio;
  std::optional<Millis> max_p50, max_p95, max_p99;
  // With `rebound run --baseline`: how much slower than the baseline run recovery (and healing) may be (0.2: 20%).
  double max_recovery_regression = 0.2;
  // Fails a run when time to recover (or heal) is rising over recent runs and, at that rate, crosses
  // recover_within (heal_within) within this many runs (the history's trend test; see cli/trend_gate.hpp).
  std::optional<int> max_trend;
};

struct Experiment {
  std::string name;  // the report folder's name: [a-zA-Z0-9._-]
  std::string title;
  std::string description;
  std::vector<std::string> tags;
  std::string file;
  std::vector<TargetSpec> targets;
  std::vector<ProbeDecl> probes;
  SteadyStateSpec steady_state;
  std::vector<CommandSpec> setup;
  std::vector<StepDecl> method;
  std::vector<CommandSpec> rollbacks;
  std::vector<CommandSpec> teardown;
  std::vector<GuardSpec> guards;
  SloSpec slo;
  std::map<std::string, std::string> variables;  // each ${var.NAME} used, with its value
  std::vector<std::string> secrets;              // values from ${env.NAME}: masked in the journal and reports
  std::shared_ptr<CaptureStore> captures;        // values captured by commands while it runs

  const TargetSpec* find_target(const std::string& name) const;
  const ProbeDecl* find_probe(const std::string& name) const;
  // From the method's start to the planned end of its last step.
  Millis method_span() const;
  Millis observe_for() const;
  bool has_faults() const;
};

}  // namespace rebound
