#pragma once
// The subcommands of `rebound`: each file cli/<name>.cpp defines its options and what it runs; main dispatches.
#include <CLI/CLI.hpp>
#include <functional>

namespace rebound {

// A subcommand as main sees it: its CLI11 definition, and what runs when it was given.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_run_command(CLI::App& app);
Command add_validate_command(CLI::App& app);
Command add_faults_command(CLI::App& app);
Command add_gameday_command(CLI::App& app);
Command add_schedule_command(CLI::App& app);
Command add_history_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_doctor_command(CLI::App& app);
Command add_recover_command(CLI::App& app);
Command add_halt_command(CLI::App& app);
Command add_resume_command(CLI::App& app);
Command add_status_command(CLI::App& app);

}  // namespace rebound
