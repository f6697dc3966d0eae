// `rebound __guardian`: what the guardian does when the rebound it watches ends (system/guardian.hpp).
#include "cli/guardian.hpp"

#include <chrono>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <exception>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "config/build_info.hpp"
#include "system/guardian.hpp"
#include "system/state_dir.hpp"
#include "injectors/recovery.hpp"
#include "experiments/runner.hpp"
#include "reports/journal.hpp"

namespace fs = std::filesystem;

namespace rebound {

void guardian_log(const std::string& state_dir, const std::vector<std::string>& lines) {
  Fd fd(open((state_dir + "/guardian.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return;
  std::string text;
  for (const auto& line : lines) text += fmt::format("{} guardian {}: {}\n", iso8601_now(), getpid(), line);
  ssize_t written = write(fd.get(), text.data(), text.size());
  (void)written;  // nowhere else to report a failed log write
}

namespace {

void log_lines(const std::string& state_dir, const std::vector<std::string>& lines) { guardian_log(state_dir, lines); }

// A minimal journal for an experiment that rebound did not finish: status `crashed`, what was reverted, and the
// same top-level keys as a full journal (empty), so that `rebound report` and other readers take it.
nlohmann::json crashed_journal(const nlohmann::json& marker, const ParentEnd& end,
                               const std::vector<RecoveredFault>& faults) {
  nlohmann::json reverted = nlohmann::json::array();
  size_t undone = 0;
  for (const auto& f : faults) {
    reverted.push_back({{"step", f.step}, {"type", f.type}, {"reverted", f.ok}, {"outcome", f.outcome}});
    undone += f.ok;
  }
  std::string why = fmt::format("rebound (pid {}) {} before it finished this experiment", end.parent.pid,
                                end.describe());
  why += faults.empty() ? "; no fault of it was applied at that moment"
                        : fmt::format("; its guardian reverted {} of the {} faults it left applied{}", undone,
                                      faults.size(), undone == faults.size() ? "" : " (run `rebound recover`)");
  nlohmann::json j;
  j["schema_version"] = kJournalSchemaVersion;
  j["rebound_version"] = rebound_version();
  j["rebound_commit"] = rebound_commit();
  j["experiment"] = {{"name", marker.value("experiment", "?")}, {"file", marker.value("file", "")}};
  j["started_at"] = marker.value("started_at", "");
  j["ended_at"] = iso8601_now();
  j["status"] = "crashed";
  j["verdict"] = "error";
  j["exit_code"] = 4;
  j["reasons"] = {why};
  j["crash"] = {{"rebound_pid", end.parent.pid},
                {"signal", end.signal ? nlohmann::json(end.describe().substr(std::string("killed by ").size()))
                                      : nlohmann::json(nullptr)},
                {"exit_code", end.exit_code ? nlohmann::json(*end.exit_code) : nlohmann::json(nullptr)},
                {"written_by", fmt::format("guardian pid {}", getpid())}};
  j["reverted"] = reverted;
  for (const char* key : {"phases", "steps", "commands", "guard_events", "slo", "probes"}) j[key] = nlohmann::json::array();
  j["targets"] = nlohmann::json::object();
  j["steady_state"] = {{"baseline", nullptr}, {"after", nullptr}};
  j["metrics"] = {{"phases", nlohmann::json::object()}};
  return j;
}

// Recovery that failed is tried again for a while: some failures are transient (a cgroup stays busy for a
// moment after its last process left, a process is half-way through exiting). What was undone on an earlier
// attempt stays in the report; the records still failing after the last attempt are left for `rebound recover`.
RecoveryReport recover_owned_by_with_retries(const std::string& state_dir, const RecordOwner& owner) {
  RecoveryReport report = recover_owned_by(state_dir, owner);
  auto pause = std::chrono::milliseconds(20);
  for (int attempt = 1; report.failed > 0 && attempt < 8; ++attempt, pause *= 2) {
    std::this_thread::sleep_for(pause);
    RecoveryReport again = recover_owned_by(state_dir, owner);
    std::erase_if(report.faults, [](const RecoveredFault& f) { return !f.ok; });
    report.faults.insert(report.faults.end(), again.faults.begin(), again.faults.end());
    report.lines.push_back(fmt::format("attempt {} after {} ms:", attempt + 1, pause.count()));
    report.lines.insert(report.lines.end(), again.lines.begin(), again.lines.end());
    report.recovered += again.recovered;
    report.failed = again.failed;
    if (!again.refused.empty()) report.refused = again.refused;
  }
  return report;
}

// REBOUND_GUARDIAN_TRACE=1 (inherited from rebound) makes the guardian say in its log when it starts watching
// and what it found when it woke, even after a clean end: for soak tests of the guardian itself.
bool tracing() {
  const char* v = getenv("REBOUND_GUARDIAN_TRACE");
  return v && *v && std::string(v) != "0";
}

int on_parent_end(const GuardianArgs& args, const ParentEnd& end) {
  // Undo first: the promise is "within 100 ms". The journals come after.
  RecoveryReport report = recover_owned_by_with_retries(args.state_dir, args.parent);
  for (const auto& f : list_expired_records(args.state_dir))  // faults it ended at their deadline: done with
    if (!f.record.is_null() && record_owned_by(f.record, args.parent)) unlink(f.path.c_str());
  std::vector<FaultRecordFile> markers;
  for (auto& m : list_run_markers(args.state_dir))
    if (!m.record.is_null() && record_owned_by(m.record, args.parent)) markers.push_back(std::move(m));
  if (tracing())
    log_lines(args.state_dir, {fmt::format("woke ({}): rebound pid {} {}; {} faults of its own, {} refused, {} run markers",
                                           end.watched_by_pidfd ? "pidfd" : "/proc", end.parent.pid, end.describe(),
                                           report.faults.size(), report.refused.size(), markers.size())});
  if (report.faults.empty() && markers.empty() && report.refused.empty()) return 0;  // a clean exit
  std::vector<std::string> lines{fmt::format("rebound pid {} {}", end.parent.pid, end.describe())};
  lines.insert(lines.end(), report.lines.begin(), report.lines.end());
  for (const auto& m : markers) {
    const std::string dir = m.record.value("report_dir", "");
    std::vector<RecoveredFault> mine;
    for (const auto& f : report.faults)
      if (f.report_dir == dir) mine.push_back(f);
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string path = dir + "/journal.json";
    auto written = dir.empty() ? Result<void>(fail("the run marker names no report folder"))
                               : write_state_file(path, crashed_journal(m.record, end, mine).dump(2));
    lines.push_back(written ? fmt::format("wrote a crashed journal: {}", path)
                            : fmt::format("cannot write a crashed journal for {}: {}", m.path, written.error().message));
    if (written) chmod(path.c_str(), 0644);  // a journal is for people, like the ones rebound writes
    unlink(m.path.c_str());
  }
  log_lines(args.state_dir, lines);
  return report.failed ? 1 : 0;
}

}  // namespace

int guardian_command(int argc, char** argv) {
  auto args = parse_guardian_args(argc, argv);
  if (!args) return 2;  // not started by rebound: nothing to watch
  static std::string state_dir = args->state_dir;
  if (tracing()) {
    rlimit core{};  // a trace is for finding the guardian's own faults: let it dump core
    if (getrlimit(RLIMIT_CORE, &core) == 0) {
      core.rlim_cur = core.rlim_max;
      setrlimit(RLIMIT_CORE, &core);
    }
  }
  std::set_terminate([] {
    std::string what = "no exception";
    if (auto e = std::current_exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        what = ex.what();
      } catch (...) {
        what = "an exception that is not a std::exception";
      }
    }
    log_lines(state_dir, {fmt::format("the guardian ends on std::terminate ({}): run `rebound recover`", what)});
    std::abort();
  });
  auto on_watch = [&](const char* how) {
    if (tracing()) log_lines(args->state_dir, {fmt::format("watching rebound pid {} by {}", args->parent.pid, how)});
  };
  auto on_timer = [&] {
    try {
      return enforce_fault_deadlines(*args);
    } catch (const std::exception& e) {
      log_lines(args->state_dir, {fmt::format("the guardian cannot check the fault deadlines: {}", e.what())});
      return 1000;
    }
  };
  return run_guardian(*args, on_watch, on_timer, [&](const ParentEnd& end) {
    // Nobody would see an exception escape: say it in the log, where `rebound recover` users look.
    try {
      return on_parent_end(*args, end);
    } catch (const std::exception& e) {
      log_lines(args->state_dir, {fmt::format("rebound pid {} {}; the guardian failed: {} (run `rebound recover`)",
                                              end.parent.pid, end.describe(), e.what())});
      return 1;
    }
  });
}

}  // namespace rebound
