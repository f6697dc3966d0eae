#pragma once
// A step's `follow` and `follow_interval` keys: whether a lasting fault extends itself to its target's new
// processes (experiments/runner_follow.cpp).
#include "config/table_reader.hpp"
#include "experiments/experiment.hpp"

namespace rebound {

// Reads follow / follow_interval into `s` (its type and action already parsed; `target` is its target, if any).
// Without `follow`, a step follows wherever it can; `follow = true` where it cannot is an error.
void parse_follow(TableReader& r, StepDecl& s, const TargetSpec* target);

}  // namespace rebound
