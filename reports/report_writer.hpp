#pragma once
// Writes an experiment's journal.json and summary.md into its folder.
#include <string>

#include "experiments/experiment.hpp"
#include "experiments/result.hpp"
#include "experiments/runner.hpp"

namespace rebound {

Result<void> write_text_file(const std::string& path, const std::string& text);
Result<void> write_experiment_reports(const Experiment& experiment, const RunResult& result, const std::string& dir);

}  // namespace rebound
