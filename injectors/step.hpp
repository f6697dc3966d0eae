#pragma once
// A step applies one thing on the timeline (a fault, a command, a wait) and, for lasting faults, reverts it.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "system/fault_record.hpp"
#include "config/result.hpp"
#include "system/targets.hpp"

namespace rebound {

// What a step did, in one line for every report: `any` is false when a fault reached nothing (no packet
// affected, no connection steered, no process stopped), which makes a run inconclusive rather than passed
// unless the step says allow_no_effect = true.
struct StepEffect {
  bool any = true;
  std::string summary;  // "affected 12 of 40 packets", "stopped 2 of 2 processes (state T)"
};

struct StepContext {
  std::string experiment;
  std::string step;
  std::string type;
  std::vector<ProcessInfo> processes;     // the step's target, resolved when the step starts
  // Every process the target matched then (more than `processes` when a target draws some of them): a step that
  // follows its target (`follow`) treats only processes not in here as new.
  std::vector<ProcessInfo> matched;
  FaultRecorder* recorder = nullptr;
  std::function<bool()> aborted = [] { return false; };
  nlohmann::json detail = nlohmann::json::object();  // what the step did, for the journal
  std::string record_path;                // set by record(); the runner clears it after revert
  std::optional<StepEffect> effect;       // set by apply (instant faults, actions) or revert (lasting faults)
  // When the fault switched on (apply) or off (revert), for a step that does it at one instant (a map update):
  // the journal's applied and reverted times. Unset: the runner takes the time when apply or revert returns.
  std::optional<std::chrono::steady_clock::time_point> switched_at;

  // Durably notes what must be undone before the fault is applied, so `rebound recover` can undo it.
  Result<void> record(nlohmann::json undo) {
    if (!recorder) return {};
    auto path = recorder->record({{"experiment", experiment}, {"step", step}, {"type", type}, {"undo", std::move(undo)}});
    if (!path) return path.error();
    record_path = *path;
    return {};
  }
  // Replaces the undo of the record written by record() (a fault extended to more processes), keeping the rest
  // of it (its hard deadline): written before the fault reaches the new processes.
  Result<void> update_record(const nlohmann::json& undo) {
    if (!recorder || record_path.empty()) return {};
    return recorder->update_undo(record_path, undo);
  }
};

class StepAction {
 public:
  virtual ~StepAction() = default;
  // True for a step that gets everything ready before the method starts (prepare), so that its apply is
  // one switch: the runner resolves its target then, not at the step's start.
  virtual bool prepares() const { return false; }
  // Before the method: attaches what the step needs, switched off, and records it like an applied fault
  // (context.record), so that the guardian and `rebound recover` undo a prepared step too. Once prepared,
  // revert is called whatever happens (also when the step never starts); a failed prepare undid itself.
  virtual Result<void> prepare(StepContext&) { return {}; }
  virtual Result<void> apply(StepContext& context) = 0;
  // A prepared fault switches off here at one instant (a store), before the runner does anything else at the
  // step's end; revert still follows and does the rest. Must be safe to call when the fault is already gone.
  virtual void switch_off(StepContext&) {}
  // Lasting faults only; called once after apply (or prepare) succeeded, whatever ended the step.
  virtual Result<void> revert(StepContext&) { return {}; }
  // Called once when the experiment ends (after its teardown), whether or not the step ran: releases what a
  // step keeps on purpose after its revert (the proxy's connections) so that nothing outlives the experiment.
  virtual void finish() {}
  // A lasting fault that can reach processes of its target that appear while it lasts (`follow`, see
  // experiments/runner_follow.cpp): the runner offers it each new match through extend.
  virtual bool follows() const { return false; }
  // While applied: extends the fault to `newcomers` (processes its target matches now that it did not match
  // before), noting them in the fault's record first (context.update_record) so that the guardian and `rebound
  // recover` undo them too. Returns the ones it reached (a newcomer that exited meanwhile is left out). After an
  // error, what it did reach is still undone by revert.
  [[nodiscard]] virtual Result<std::vector<ProcessInfo>> extend(StepContext&, const std::vector<ProcessInfo>&) {
    return std::vector<ProcessInfo>{};
  }
  // Checks, without changing anything, that the step can be applied here (e.g. loads BPF programs
  // through the verifier). Runs for every step before anything is injected, and in dry runs.
  virtual Result<void> preflight() { return {}; }
  // For dry runs: what the step would do to `processes` (its target as it resolves now) on this host, e.g.
  // which cgroup its stressors would join; "" when there is nothing to add; an error when it could not run.
  virtual Result<std::string> plan(const std::vector<ProcessInfo>&) const { return std::string(); }
  virtual nlohmann::json describe() const = 0;
};

}  // namespace rebound
