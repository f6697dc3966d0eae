// rebound gameday: runs a game-day suite now.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/suite_run.hpp"
#include "system/signals.hpp"

namespace rebound {
namespace {

int cmd_gameday(const std::string& file, RunFlags flags) {
  auto suite = load_suite_or_say(file);
  if (!suite) return exit_code(Verdict::error);
  if (refuse_if_halted(flags.state_dir)) return kExitHalted;
  auto guarded_dir = guarded_state_dir(flags.state_dir);
  if (!guarded_dir) return exit_code(Verdict::error);
  flags.state_dir = *guarded_dir;
  const bool default_dir = flags.report_dir.empty();
  std::string report_dir = default_dir ? default_report_dir() : flags.report_dir;
  std::unique_ptr<History> history;
  if (!flags.no_history) {
    history = open_history_or_say(history_file(flags));
    if (!history) return exit_code(Verdict::error);
  }
  install_interrupt_handlers();
  return exit_code(run_and_report_suite(*suite, report_dir, flags, history.get()));
}

}  // namespace

Command add_gameday_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto flags = std::make_shared<RunFlags>();
  auto* gameday = app.add_subcommand("gameday", "Run a game-day suite now");
  gameday->add_option("file", *file, "suite file")->required();
  gameday->add_option("--report-dir", flags->report_dir,
                      "where reports go (default: a new folder under rebound-reports/)");
  gameday->add_option("--state-dir", flags->state_dir, "where fault records are kept");
  gameday->add_option("--history", flags->history, "the history database");
  gameday->add_flag("--no-progress", flags->no_progress, "plain log lines even on a terminal");
  gameday->add_flag("--no-history", flags->no_history, "do not record the trials");
  return {gameday, [file, flags] { return cmd_gameday(*file, *flags); }};
}

}  // namespace rebound
