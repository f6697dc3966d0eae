#pragma once
// What several subcommands share: loading files, report folders, the guarded state directory, the history.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/variables.hpp"
#include "history/history.hpp"
#include "experiments/loader.hpp"
#include "gameday/suite.hpp"

namespace rebound {

// The flags of `run`, `gameday` and `schedule`.
struct RunFlags {
  std::string report_dir, state_dir, metrics_file, history, baseline;
  bool dry = false, no_progress = false, no_history = false;
  VarFlags vars;  // rebound run only
};

// The folder of the demo's programs: beside the rebound binary in a build tree, PREFIX/lib/rebound once installed
// (`${rebound_bin_dir}` in experiment files).
std::string bin_dir();
// Now in UTC, as a folder name: 20260101T120000Z.
std::string now_stamp();
// A new folder under rebound-reports/ named for now.
std::string default_report_dir();

struct Loaded {
  std::string file;
  LoadResult result;
};
// Validates every file before anything runs; prints every error.
std::vector<Loaded> load_all(const std::vector<std::string>& files, bool& all_valid,
                             const std::map<std::string, std::string>& vars = {});
// The suite, or nullopt after printing why not.
std::optional<Suite> load_suite_or_say(const std::string& file);

// The state directory, created 0700 or checked (trusted, see system/state_dir.hpp), with a guardian watching
// this process (system/guardian.hpp); nullopt after saying why not. Called before any thread or fault exists.
std::optional<std::string> guarded_state_dir(const std::string& flag);

// The exit code of `rebound run` and `gameday` when they refuse to start because the host is halted.
constexpr int kExitHalted = 5;
// When the state directory the flag names (or the default) holds a `rebound halt`: says so, with its reason and
// how to resume, and returns true (cli/halt.cpp).
bool refuse_if_halted(const std::string& state_dir_flag);

// The history file the flags name, else the one of this user and host (History::default_path).
std::string history_file(const RunFlags& flags);
// Opens the history, or says why not and returns nullptr.
std::unique_ptr<History> open_history_or_say(const std::string& path);

}  // namespace rebound
