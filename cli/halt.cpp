// rebound halt / resume / status: the emergency stop of a host, and what is running on it.
// The halt is STATE/halt.json (system/state_dir.hpp): every running rebound looks for it every 20 ms, reverts all
// its faults and ends `aborted`; `rebound run` and `gameday` refuse to start and `schedule` skips its starts
// while it exists.
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <iostream>
#include <map>
#include <thread>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "experiments/analysis.hpp"
#include "system/fault_record.hpp"
#include "system/state_dir.hpp"

namespace rebound {
namespace {

std::string state_dir_of(const std::string& flag) { return flag.empty() ? FaultRecorder::default_dir() : flag; }

// The live rebounds with a run marker (experiment running), and the faults each has applied.
struct Running {
  nlohmann::json marker;
  std::vector<nlohmann::json> faults;
};

std::map<pid_t, std::vector<Running>> running_rebounds(const std::string& dir, std::vector<nlohmann::json>* orphans) {
  std::map<pid_t, std::vector<Running>> out;
  for (const auto& m : list_run_markers(dir))
    if (!m.record.is_null() && record_owner_alive(m.record)) out[m.record["owner"].value("pid", 0)].push_back({m.record, {}});
  for (const auto& f : list_fault_records(dir)) {
    if (f.record.is_null()) continue;
    pid_t pid = record_owner_alive(f.record) ? f.record["owner"].value("pid", 0) : 0;
    auto it = out.find(pid);
    if (it == out.end()) {
      if (orphans) orphans->push_back(f.record);
      continue;
    }
    // A rebound runs one experiment at a time per thread; a fault goes with the marker of its experiment.
    auto& runs = it->second;
    auto match = std::find_if(runs.begin(), runs.end(), [&](const Running& r) {
      return r.marker.value("experiment", "") == f.record.value("experiment", "");
    });
    (match == runs.end() ? runs.front() : *match).faults.push_back(f.record);
  }
  return out;
}

size_t live_faults(const std::string& dir) {
  size_t n = 0;
  for (const auto& f : list_fault_records(dir)) n += !f.record.is_null() && record_owner_alive(f.record);
  return n;
}

int cmd_halt(const std::string& flag, const std::string& reason, double wait_s) {
  const std::string dir = state_dir_of(flag);
  auto halt = write_halt(dir, reason);
  if (!halt) {
    std::cerr << fmt::format("error: cannot halt: {}\n", halt.error().message);
    return exit_code(Verdict::error);
  }
  auto running = running_rebounds(dir, nullptr);
  std::cout << fmt::format("halt: this host is {} (state: {})\n", halt->describe(), dir);
  for (const auto& [pid, runs] : running)
    for (const auto& r : runs)
      std::cout << fmt::format("  rebound pid {}: experiment '{}' ({} fault(s) applied) is reverting\n", pid,
                               r.marker.value("experiment", "?"), r.faults.size());
  // Every running rebound looks for the halt every 20 ms; wait until their faults are gone.
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  size_t left = live_faults(dir);
  while (left && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    left = live_faults(dir);
  }
  std::cout << fmt::format("halt: {} running rebound(s); {}\nno experiment or scheduled suite starts until "
                           "`rebound resume`\n",
                           running.size(),
                           left ? fmt::format("{} fault(s) still applied after {:.0f} s (see `rebound status`)", left, wait_s)
                                : "no fault is applied");
  return left ? exit_code(Verdict::error) : 0;
}

int cmd_resume(const std::string& flag) {
  const std::string dir = state_dir_of(flag);
  auto halt = read_halt(dir);
  auto cleared = clear_halt(dir);
  if (!cleared) {
    std::cerr << fmt::format("error: cannot resume: {}\n", cleared.error().message);
    return exit_code(Verdict::error);
  }
  if (!*cleared) std::cout << fmt::format("resume: this host was not halted (state: {})\n", dir);
  else std::cout << fmt::format("resume: the halt is lifted (it was {}); experiments may start again\n",
                                halt ? halt->describe() : std::string("?"));
  return 0;
}

void print_run(pid_t pid, const Running& r) {
  const auto& m = r.marker;
  std::cout << fmt::format("  pid {}  experiment '{}'  phase {}  since {}\n", pid, m.value("experiment", "?"),
                           m.value("phase", "?"), m.value("started_at", "?"));
  for (const auto& f : r.faults)
    std::cout << fmt::format("    step '{}' ({}) applied{}\n", f.value("step", "?"), f.value("type", "?"),
                             f.contains("deadline_unix_ms")
                                 ? fmt::format(", hard deadline in {:.1f} s",
                                               (f["deadline_unix_ms"].get<int64_t>() - unix_now_ms()) / 1000.0)
                                 : "");
}

int cmd_status(const std::string& flag) {
  const std::string dir = state_dir_of(flag);
  if (auto trusted = check_state_dir(dir); !trusted) {
    std::cerr << "error: " << trusted.error().message << "\n";
    return exit_code(Verdict::error);
  }
  auto halt = read_halt(dir);
  std::cout << fmt::format("host: {} (state: {})\n", halt ? halt->describe() : std::string("not halted"), dir);
  std::vector<nlohmann::json> orphans;
  auto running = running_rebounds(dir, &orphans);
  std::cout << fmt::format("running: {} rebound(s)\n", running.size());
  for (const auto& [pid, runs] : running)
    for (const auto& r : runs) print_run(pid, r);
  if (!orphans.empty())
    std::cout << fmt::format("left behind by a rebound that died: {} fault(s) (run `rebound recover`)\n", orphans.size());
  return 0;
}

}  // namespace

Command add_halt_command(CLI::App& app) {
  auto state_dir = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>("emergency stop (no reason given)");
  auto wait = std::make_shared<double>(10);
  auto* halt = app.add_subcommand("halt", "Emergency stop: every running rebound reverts its faults; nothing starts "
                                          "until `rebound resume`");
  halt->add_option("--reason", *reason, "why, for the reports of the aborted experiments");
  halt->add_option("--state-dir", *state_dir, "the state directory of the rebounds to halt (default: /run/rebound as root)");
  halt->add_option("--wait", *wait, "seconds to wait for every fault to be reverted (default 10)");
  return {halt, [=] { return cmd_halt(*state_dir, *reason, *wait); }};
}

Command add_resume_command(CLI::App& app) {
  auto state_dir = std::make_shared<std::string>();
  auto* resume = app.add_subcommand("resume", "Lift a `rebound halt`: experiments and scheduled suites may start again");
  resume->add_option("--state-dir", *state_dir, "the state directory (default: /run/rebound as root)");
  return {resume, [=] { return cmd_resume(*state_dir); }};
}

Command add_status_command(CLI::App& app) {
  auto state_dir = std::make_shared<std::string>();
  auto* status = app.add_subcommand("status", "What rebound is running on this host, and whether it is halted");
  status->add_option("--state-dir", *state_dir, "the state directory (default: /run/rebound as root)");
  return {status, [=] { return cmd_status(*state_dir); }};
}

// `rebound run` and `gameday` while the host is halted: the message, and the exit code kExitHalted.
bool refuse_if_halted(const std::string& flag) {
  auto halt = read_halt(state_dir_of(flag));
  if (!halt) return false;
  std::cerr << fmt::format("error: this host is {}\nnothing was run; `rebound resume` lifts the halt (exit code {})\n",
                           halt->describe(), kExitHalted);
  return true;
}

}  // namespace rebound
