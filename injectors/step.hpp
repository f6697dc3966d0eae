#pragma once
// A step applies one thing on the timeline (a fault, a command, a wait) and, for lasting faults, reverts it.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "system/fault_record.hpp"
#include "config/result.hpp"
#include "system/targets.hpp"

namespace rebound {

struct StepContext {
  std::string experiment;
  std::string step;
  std::string type;
  std::vector<ProcessInfo> processes;     // the step's target, resolved when the step starts
  FaultRecorder* recorder = nullptr;
  std::function<bool()> aborted = [] { return false; };
  nlohmann::json detail = nlohmann::json::object();  // what the step did, for the journal
  std::string record_path;                // set by record(); the runner clears it after revert

  // Durably notes what must be undone before the fault is applied, so `rebound recover` can undo it.
  Result<void> record(nlohmann::json undo) {
    if (!recorder) return {};
    auto path = recorder->record({{"experiment", experiment}, {"step", step}, {"type", type}, {"undo", std::move(undo)}});
    if (!path) return path.error();
    record_path = *path;
    return {};
  }
};

class StepAction {
 public:
  virtual ~StepAction() = default;
  virtual Result<void> apply(StepContext& context) = 0;
  // Lasting faults only; called once after apply succeeded, whatever ended the step.
  virtual Result<void> revert(StepContext&) { return {}; }
  // Called once when the experiment ends (after its teardown), whether or not the step ran: releases what a
  // step keeps on purpose after its revert (the proxy's connections) so that nothing outlives the experiment.
  virtual void finish() {}
  // Checks, without changing anything, that the step can be applied here (e.g. loads BPF programs
  // through the verifier). Runs for every step before anything is injected, and in dry runs.
  virtual Result<void> preflight() { return {}; }
  virtual nlohmann::json describe() const = 0;
};

}  // namespace rebound
