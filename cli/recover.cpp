// rebound recover: undoes faults left behind by a rebound that died.
#include <fmt/format.h>
#include <iostream>

#include "cli/commands.hpp"
#include "experiments/analysis.hpp"
#include "system/fault_record.hpp"
#include "injectors/recovery.hpp"

namespace rebound {
namespace {

int cmd_recover(const std::string& state_dir, bool force) {
  std::string dir = state_dir.empty() ? FaultRecorder::default_dir() : state_dir;
  auto report = recover_leftovers(dir, force);
  if (!report.refused.empty()) {
    std::cerr << "error: " << report.refused << "\nrecover: nothing was touched\n";
    return exit_code(Verdict::error);
  }
  for (const auto& line : report.lines) std::cout << line << "\n";
  std::cout << fmt::format("recover: {} undone, {} left to a running rebound, {} failed (state: {})\n",
                           report.recovered, report.skipped, report.failed, dir);
  return report.failed ? exit_code(Verdict::error) : 0;
}

}  // namespace

Command add_recover_command(CLI::App& app) {
  auto state_dir = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* recover = app.add_subcommand("recover", "Undo faults left behind by a rebound that died");
  recover->add_option("--state-dir", *state_dir, "where fault records are kept (default: /run/rebound as root)");
  recover->add_flag("--force", *force, "also undo faults of a rebound that is still running");
  return {recover, [state_dir, force] { return cmd_recover(*state_dir, *force); }};
}

}  // namespace rebound
