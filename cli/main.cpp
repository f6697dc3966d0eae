// rebound: declare an experiment in TOML, break something for real, and get a verdict.
// This file builds the command line and dispatches; each subcommand lives in cli/<name>.cpp.
#include <CLI/CLI.hpp>
#include <iostream>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "config/build_info.hpp"
#include "cli/commands.hpp"
#include "cli/guardian.hpp"
#include "system/guardian.hpp"
#include "experiments/analysis.hpp"

using namespace rebound;

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == kGuardianCommand) return guardian_command(argc, argv);
  auto logger = spdlog::stderr_color_mt("rebound");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%H:%M:%S.%e %l]%$ %v");

  CLI::App app{"rebound: chaos experiments with verdicts you can gate on", "rebound"};  // not argv[0]: a build path
  app.set_version_flag("--version", version_line());
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  // In the order `rebound --help` lists them.
  const std::vector<Command> commands{add_run_command(app),      add_validate_command(app), add_faults_command(app),
                                      add_gameday_command(app),  add_schedule_command(app), add_history_command(app),
                                      add_report_command(app),   add_doctor_command(app),   add_recover_command(app),
                                      add_halt_command(app),     add_resume_command(app),   add_status_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : exit_code(Verdict::error);
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return exit_code(Verdict::error);
  }
  return exit_code(Verdict::error);
}
