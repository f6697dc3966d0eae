#pragma once
#include <optional>
#include <string>

#include "experiments/diagnostics.hpp"
#include "experiments/experiment.hpp"

namespace rebound {

struct LoadOptions {
  std::string rebound_bin_dir;  // ${rebound_bin_dir}: where the rebound binary (and the demo's) live
};

struct LoadResult {
  std::optional<Experiment> experiment;  // set only when there were no errors
  Diagnostics diagnostics;
};

// Parses and validates an experiment file completely; nothing is resolved or run.
LoadResult load_experiment(const std::string& path, const LoadOptions& options);
LoadResult load_experiment_text(const std::string& text, const std::string& path, const LoadOptions& options);

}  // namespace rebound
