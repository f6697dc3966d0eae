#pragma once
// summary.md: the verdict, each criterion, the phases and the steps, for a person or a PR comment.
#include <string>

#include "experiments/experiment.hpp"
#include "experiments/runner.hpp"

namespace rebound {

std::string make_markdown(const Experiment& experiment, const RunResult& result);

}  // namespace rebound
