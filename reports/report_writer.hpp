#pragma once
// Writes an experiment's journal.json and summary.md into its folder.
#include <nlohmann/json.hpp>
#include <string>

#include "experiments/experiment.hpp"
#include "config/result.hpp"
#include "experiments/runner.hpp"

namespace rebound {

Result<void> write_text_file(const std::string& path, const std::string& text);
// `journal` is make_journal(experiment, result): built once by the caller, who also records it in the history.
Result<void> write_experiment_reports(const Experiment& experiment, const RunResult& result,
                                      const nlohmann::json& journal, const std::string& dir);

}  // namespace rebound
