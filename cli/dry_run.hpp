#pragma once
// `rebound run --dry-run`: the validated experiment, its resolved targets and its timeline; nothing injected.
#include "experiments/experiment.hpp"

namespace rebound {

// Prints what the run would do; 0, or the error exit code when a target or a step cannot run on this host.
int dry_run(const Experiment& ex);

}  // namespace rebound
