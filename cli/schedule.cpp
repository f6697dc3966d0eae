// rebound schedule: runs suites when their [schedule] says, in the foreground, until SIGTERM or SIGINT.
#include <atomic>
#include <chrono>
#include <ctime>
#include <fmt/format.h>
#include <iostream>
#include <mutex>
#include <spdlog/spdlog.h>
#include <thread>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/suite_run.hpp"
#include "cli/systemd.hpp"
#include "gameday/schedule.hpp"
#include "system/signals.hpp"
#include "system/state_dir.hpp"

namespace rebound {
namespace {

std::time_t now() { return std::time(nullptr); }

// Starts each suite when it is due, never two runs of one suite at once; the history keeps when each was last due,
// so that a restart resumes the schedule.
class Scheduler {
 public:
  Scheduler(std::vector<Suite>& suites, const RunFlags& flags, const std::string& base_dir, History& history)
      : suites_(suites), flags_(flags), base_dir_(base_dir), history_(history), slots_(suites.size()) {}
  void run();  // until SIGTERM or SIGINT; suites in flight finish first

 private:
  struct Slot {
    std::optional<std::time_t> next;
    std::thread worker;
    std::atomic<bool> running{false};
    bool skipped_by_halt = false;  // a start was skipped while the host was halted
  };
  bool skip_while_halted(size_t i, std::time_t due);
  void after_halt();
  void start(size_t i, std::time_t due, const std::string& why);
  void catch_up(size_t i);
  void start_due();

  std::vector<Suite>& suites_;
  const RunFlags& flags_;
  const std::string& base_dir_;
  History& history_;
  std::vector<Slot> slots_;
  std::mutex history_mutex_;
};

// A start due while the host is halted (`rebound halt`) is skipped and logged with the halt's reason; the
// schedule's state is not saved, so missed = run_once runs it once the halt is lifted.
bool Scheduler::skip_while_halted(size_t i, std::time_t due) {
  auto halt = read_halt(flags_.state_dir);
  if (!halt) return false;
  slots_[i].skipped_by_halt = true;
  spdlog::warn("suite {}: due at {} but the host is {}: skipped (`rebound resume` lifts the halt)", suites_[i].name,
               format_local(due, suites_[i].schedule->time_zone), halt->describe());
  return true;
}

// Once the halt is lifted, a suite with missed = run_once whose start was skipped runs once.
void Scheduler::after_halt() {
  if (halt_present(flags_.state_dir)) return;
  for (size_t i = 0; i < suites_.size(); ++i) {
    if (!slots_[i].skipped_by_halt) continue;
    slots_[i].skipped_by_halt = false;
    if (suites_[i].schedule->run_missed_once) start(i, now(), "a start was skipped while the host was halted; missed = run_once");
    else spdlog::info("suite {}: the halt is lifted; the start it skipped is not made up (missed = skip)", suites_[i].name);
  }
}

void Scheduler::start(size_t i, std::time_t due, const std::string& why) {
  Suite& suite = suites_[i];
  if (skip_while_halted(i, due)) return;
  if (slots_[i].running) {
    spdlog::warn("suite {}: due at {} but its previous run is still going: skipped (never two at once)", suite.name,
                 format_local(due, suite.schedule->time_zone));
    return;
  }
  {
    std::lock_guard lock(history_mutex_);
    // Saved before the run starts: a scheduler restarted meanwhile must not start this window again.
    if (auto saved = history_.set_last_due(suite.name, due); !saved)
      spdlog::error("suite {}: cannot save that the run due at {} started: {} (a restarted scheduler may run it again)",
                    suite.name, format_local(due, suite.schedule->time_zone), saved.error().message);
  }
  if (slots_[i].worker.joinable()) slots_[i].worker.join();
  slots_[i].running = true;
  spdlog::info("suite {}: starting ({})", suite.name, why);
  slots_[i].worker = std::thread([this, i] {
    std::string dir = fmt::format("{}/{}/{}", base_dir_, suites_[i].name, now_stamp());
    Verdict v = run_and_report_suite(suites_[i], dir, flags_, &history_);
    spdlog::info("suite {}: {} (reports in {})", suites_[i].name, to_string(v), dir);
    slots_[i].running = false;
  });
}

// Runs a suite once at start-up when runs were missed while rebound was down and it says missed = run_once.
void Scheduler::catch_up(size_t i) {
  const auto& sched = *suites_[i].schedule;
  auto last = history_.last_due(suites_[i].name);
  if (last && *last) {
    int missed = sched.missed(static_cast<std::time_t>(**last), now());
    if (missed > 0 && sched.run_missed_once)
      start(i, now(), fmt::format("{} run(s) missed while rebound was down; missed = run_once", missed));
    else if (missed > 0)
      spdlog::info("suite {}: {} run(s) missed while rebound was down; missed = skip", suites_[i].name, missed);
  }
  int skipped = 0;
  slots_[i].next = sched.next_due(now(), &skipped);
  spdlog::info("suite {}: next due {}{}", suites_[i].name,
               slots_[i].next ? format_local(*slots_[i].next, sched.time_zone) : std::string("never"),
               skipped ? fmt::format(" ({} start(s) fall in blackout windows)", skipped) : "");
}

void Scheduler::start_due() {
  for (size_t i = 0; i < suites_.size(); ++i) {
    if (!slots_[i].next || *slots_[i].next > now()) continue;
    start(i, *slots_[i].next, "due");
    slots_[i].next = suites_[i].schedule->next_due(now());
    spdlog::info("suite {}: next due {}", suites_[i].name,
                 slots_[i].next ? format_local(*slots_[i].next, suites_[i].schedule->time_zone) : std::string("never"));
  }
}

void Scheduler::run() {
  for (size_t i = 0; i < suites_.size(); ++i) catch_up(i);
  while (!interrupt_signal()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    after_halt();
    start_due();
  }
  spdlog::info("stopping: {} received; suites in flight revert their faults first", signal_name(interrupt_signal()));
  for (auto& s : slots_)
    if (s.worker.joinable()) s.worker.join();
}

// The suites, each with a [schedule]; nullopt after saying what is wrong.
std::optional<std::vector<Suite>> load_scheduled(const std::vector<std::string>& files) {
  std::vector<Suite> suites;
  for (const auto& f : files) {
    auto suite = load_suite_or_say(f);
    if (!suite) return std::nullopt;
    if (!suite->schedule) {
      std::cerr << fmt::format("{}: no [schedule] table: add one with a time zone and cron = [\"...\"]\n", f);
      return std::nullopt;
    }
    suites.push_back(std::move(*suite));
  }
  return suites;
}

int cmd_schedule(const std::vector<std::string>& files, RunFlags flags) {
  auto suites = load_scheduled(files);
  if (!suites) return exit_code(Verdict::error);
  auto guarded_dir = guarded_state_dir(flags.state_dir);
  if (!guarded_dir) return exit_code(Verdict::error);
  flags.state_dir = *guarded_dir;
  const std::string base_dir = flags.report_dir.empty() ? "rebound-reports" : flags.report_dir;
  auto history = open_history_or_say(history_file(flags));
  if (!history) {
    std::cerr << "error: rebound schedule needs its history (it keeps the schedule's state there)\n";
    return exit_code(Verdict::error);
  }
  install_interrupt_handlers();
  Scheduler(*suites, flags, base_dir, *history).run();
  return 0;
}

}  // namespace

Command add_schedule_command(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto flags = std::make_shared<RunFlags>();
  auto systemd = std::make_shared<bool>(false);
  auto* schedule = app.add_subcommand("schedule", "Run suites when their [schedule] says, in the foreground");
  schedule->add_option("files", *files, "suite files with a [schedule]")->required();
  schedule->add_option("--report-dir", flags->report_dir, "where runs go (default: rebound-reports/SUITE/TIME)");
  schedule->add_option("--state-dir", flags->state_dir, "where fault records are kept");
  schedule->add_option("--history", flags->history, "the history database (default: REBOUND_HISTORY, else /var/lib/rebound/history.sqlite for root, "
                  "~/.local/state/rebound/history.sqlite otherwise)");
  schedule->add_flag("--print-systemd", *systemd, "print a systemd service and timer for the suite instead");
  return {schedule, [files, flags, systemd] {
            flags->no_progress = true;
            return *systemd ? print_systemd(files->at(0)) : cmd_schedule(*files, *flags);
          }};
}

}  // namespace rebound
