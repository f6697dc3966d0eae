#pragma once
#include <map>
#include <memory>
#include <optional>
#include <toml++/toml.h>
#include <string>

#include "config/diagnostics.hpp"
#include "experiments/experiment.hpp"

namespace rebound {

struct LoadOptions {
  LoadOptions() = default;
  explicit LoadOptions(std::string bin_dir) : rebound_bin_dir(std::move(bin_dir)) {}
  std::string rebound_bin_dir;  // ${rebound_bin_dir}: where the rebound binary (and the demo's) live
  // A suite's shared [[targets]] and [[probes]] (its whole file): an experiment uses those it does not
  // define itself. Errors in them name the suite file.
  std::shared_ptr<const toml::table> shared;
  std::string shared_file;
  // ${var.NAME} values from the command line (--var, --var-file); they override [variables].
  std::map<std::string, std::string> vars;
};

struct LoadResult {
  std::optional<Experiment> experiment;  // set only when there were no errors
  Diagnostics diagnostics;
};

// Parses and validates an experiment file completely; nothing is resolved or run.
LoadResult load_experiment(const std::string& path, const LoadOptions& options);
LoadResult load_experiment_text(const std::string& text, const std::string& path, const LoadOptions& options);

}  // namespace rebound
