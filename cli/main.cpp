// rebound: declare an experiment in TOML, break something for real, and get a verdict.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <set>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/guardian.hpp"
#include "system/fault_record.hpp"
#include "system/guardian.hpp"
#include "system/state_dir.hpp"
#include "history/history.hpp"
#include "gameday/suite.hpp"
#include "config/toml_input.hpp"
#include "experiments/loader.hpp"
#include "experiments/runner.hpp"
#include "system/signals.hpp"
#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/toxic_proxy.hpp"
#include "injectors/recovery.hpp"
#include "injectors/registry.hpp"
#include "probes/registry.hpp"
#include "reports/html.hpp"
#include "reports/journal.hpp"
#include "reports/junit.hpp"
#include "reports/metrics.hpp"
#include "reports/report_writer.hpp"
#include "reports/suite_report.hpp"

namespace fs = std::filesystem;
using namespace rebound;

namespace {

std::string bin_dir() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

struct Loaded {
  std::string file;
  LoadResult result;
};

// Validates every file before anything runs; prints every error.
std::vector<Loaded> load_all(const std::vector<std::string>& files, bool& all_valid) {
  std::vector<Loaded> out;
  all_valid = true;
  LoadOptions options{bin_dir()};
  std::map<std::string, std::string> names;
  for (const auto& f : files) {
    Loaded l{f, load_experiment(f, options)};
    if (l.result.experiment) {
      auto [it, fresh] = names.emplace(l.result.experiment->name, f);
      if (!fresh) {
        l.result.diagnostics.error(1, 1, "name",
                                   fmt::format("experiment '{}' is also defined in {}; give each experiment in one "
                                               "run its own name",
                                               it->first, it->second));
        l.result.experiment.reset();
      }
    }
    if (!l.result.experiment) {
      all_valid = false;
      std::cerr << l.result.diagnostics.format_all();
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::string now_stamp() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return stamp;
}

std::string default_report_dir() {
  std::string base = fmt::format("rebound-reports/{}", now_stamp());
  std::string dir = base;
  for (int i = 2; fs::exists(dir); ++i) dir = fmt::format("{}-{}", base, i);
  return dir;
}

// is_suite_file (config/toml_input.hpp) reads the file with the loader's bounds (regular files only, at
// most 1 MiB, bounded nesting); a file that does not parse is left to the experiment loader, which reports why.

int cmd_validate(const std::vector<std::string>& files) {
  std::vector<std::string> experiments;
  bool suites_valid = true;
  for (const auto& f : files) {
    if (!is_suite_file(f)) {
      experiments.push_back(f);
      continue;
    }
    auto loaded = load_suite(f, LoadOptions{bin_dir()});
    if (!loaded.ok()) {
      suites_valid = false;
      std::cerr << loaded.format_all();
      continue;
    }
    size_t entries = 0;
    for (const auto& g : loaded.suite->groups) entries += g.entries.size();
    std::cout << fmt::format("{}: valid game-day suite ({} groups, {} experiments{})\n", f, loaded.suite->groups.size(),
                             entries, loaded.suite->schedule ? ", scheduled" : "");
  }
  bool valid = true;
  if (!experiments.empty()) {
    auto loaded = load_all(experiments, valid);
    for (const auto& l : loaded)
      if (l.result.experiment)
        std::cout << fmt::format("{}: valid ({} probes, {} steps)\n", l.file, l.result.experiment->probes.size(),
                                 l.result.experiment->method.size());
  }
  return valid && suites_valid ? 0 : exit_code(Verdict::error);
}

std::string describe_processes(const std::vector<ProcessInfo>& processes) {
  std::vector<std::string> parts;
  for (const auto& p : processes) parts.push_back(fmt::format("pid {} ({})", p.pid, p.comm));
  return fmt::format("{}", fmt::join(parts, ", "));
}

int dry_run(const Experiment& ex) {
  int status = 0;
  std::cout << fmt::format("experiment {} ({}): valid\n", ex.name, ex.file);
  std::cout << "targets:\n";
  for (const auto& t : ex.targets) {
    auto r = resolve_target(t);
    if (r) {
      std::cout << fmt::format("  {:<14} {} \"{}\" -> {}\n", t.name, to_string(t.kind), t.value, describe_processes(*r));
    } else if (!ex.setup.empty()) {
      std::cout << fmt::format("  {:<14} {} \"{}\" -> not resolved now ({}); setup steps may start it\n", t.name,
                               to_string(t.kind), t.value, r.error().message);
    } else {
      std::cout << fmt::format("  {:<14} error: {}\n", t.name, r.error().message);
      status = exit_code(Verdict::error);
    }
  }
  std::cout << "probes:\n";
  for (const auto& p : ex.probes)
    std::cout << fmt::format("  {:<14} {:<8} every {}, timeout {}: {}\n", p.name, p.type, format_duration(p.interval),
                             format_duration(p.timeout), p.probe->describe().dump());
  std::cout << "timeline:\n";
  for (const auto& s : ex.setup)
    std::cout << fmt::format("  setup      {}{}\n", fmt::join(s.argv, " "), s.background ? "  (background)" : "");
  std::cout << fmt::format("  baseline   sample for {}, steady state: {} with success >= {:.0f}%\n",
                           format_duration(ex.steady_state.window), fmt::join(ex.steady_state.probes, ", "),
                           ex.steady_state.tolerance.min_success_ratio * 100);
  for (const auto& s : ex.method) {
    std::cout << fmt::format("  method +{:<6} {:<14} {:<14} {}{} {}\n", format_duration(s.start), s.name, s.type->name,
                             s.target.empty() ? "" : "target " + s.target,
                             s.duration ? " for " + format_duration(*s.duration) : "", s.action->describe().dump());
    Result<void> ok;
    if (s.type->available) ok = s.type->available();
    if (ok) ok = s.action->preflight();
    if (!ok) {
      std::cout << fmt::format("           cannot run on this host: {}\n", ok.error().message);
      status = exit_code(Verdict::error);
    } else if (s.type->available) {
      std::cout << "           programs loaded through the verifier: ok (not attached)\n";
    }
  }
  for (const auto& c : ex.rollbacks) std::cout << fmt::format("  rollback   {}\n", fmt::join(c.argv, " "));
  std::cout << fmt::format("  recovery   observe up to {} for the steady state to hold {}\n",
                           format_duration(ex.observe_for()), format_duration(ex.slo.stable_for));
  std::cout << fmt::format("  after      sample for {} and check the steady state again\n",
                           format_duration(ex.steady_state.window));
  for (const auto& c : ex.teardown) std::cout << fmt::format("  teardown   {}\n", fmt::join(c.argv, " "));
  std::cout << "dry run: nothing was injected\n";
  return status;
}

void print_result(const Experiment& ex, const RunResult& r, const std::string& dir) {
  std::cout << fmt::format("\n{}: {} (exit {})\n", ex.name, to_string(r.verdict), exit_code(r.verdict));
  for (const auto& c : r.criteria)
    std::cout << fmt::format("  {} {:<22} {}\n", c.passed ? "pass" : "FAIL", c.name, c.detail);
  for (const auto& reason : r.reasons) std::cout << fmt::format("  why: {}\n", reason);
  if (r.metrics.time_to_recover_ms)
    std::cout << fmt::format("  time to recover: {:.1f} ms\n", *r.metrics.time_to_recover_ms);
  std::cout << fmt::format("  report: {}/summary.md\n", dir);
}

struct RunFlags {
  std::string report_dir, state_dir, metrics_file, history, baseline;
  bool dry = false, no_progress = false, no_history = false;
};

// Compares with the baseline run (before this run is recorded) and makes a passed verdict failed on a regression.
void apply_baseline(History& history, const std::string& which, const Experiment& ex, RunResult& r) {
  auto base = history.baseline(ex.name, which);
  if (!base) {
    std::cerr << "error: " << base.error().message << "\n";
    return;
  }
  if (!*base) {
    std::cerr << fmt::format("note: no baseline run of {} in the history yet: nothing to compare with\n", ex.name);
    return;
  }
  const HistoryRow& row = **base;
  if (!row.time_to_recover_ms || !r.metrics.time_to_recover_ms) return;  // recover_within already judges that
  auto c = regression_criterion(*r.metrics.time_to_recover_ms, *row.time_to_recover_ms, row.id,
                                ex.slo.max_recovery_regression);
  if (!c.passed && r.verdict == Verdict::passed) {
    r.verdict = Verdict::failed;
    r.reasons.push_back(fmt::format("{}: {}", c.name, c.detail));
  }
  r.criteria.push_back(std::move(c));
}

// The state directory, created 0700 or checked (trusted, see system/state_dir.hpp), with a guardian watching
// this process (system/guardian.hpp); nullopt after saying why not. Called before any thread or fault exists.
std::optional<std::string> guarded_state_dir(const std::string& flag) {
  std::string dir = flag.empty() ? FaultRecorder::default_dir() : flag;
  if (auto ok = prepare_state_dir(dir); !ok) {
    std::cerr << "error: " << ok.error().message << "\nnothing was run\n";
    return std::nullopt;
  }
  auto guardian = start_guardian(dir);
  if (!guardian) {
    std::cerr << fmt::format("error: {}; without it a crash of rebound could leave a fault behind, so nothing was "
                             "run\n",
                             guardian.error().message);
    return std::nullopt;
  }
  spdlog::debug("guardian pid {} watches this rebound (state: {})", *guardian, dir);
  return dir;
}

int cmd_run(const std::vector<std::string>& files, const RunFlags& flags) {
  std::string report_dir = flags.report_dir;
  const bool dry = flags.dry, no_progress = flags.no_progress;
  const std::string& state_dir = flags.state_dir;
  const std::string& metrics_file = flags.metrics_file;
  bool valid = false;
  auto loaded = load_all(files, valid);
  if (dry) {
    if (!valid) return exit_code(Verdict::error);
    int status = 0;
    for (const auto& l : loaded) status = std::max(status, dry_run(*l.result.experiment));
    return status;
  }
  const bool default_dir = report_dir.empty();
  if (default_dir) report_dir = default_report_dir();
  std::error_code ec;
  fs::create_directories(report_dir, ec);
  if (ec) {
    std::cerr << fmt::format("error: cannot create report directory {}: {}\n", report_dir, ec.message());
    return exit_code(Verdict::error);
  }
  std::vector<JunitEntry> junit;
  std::vector<RunResult> results;
  results.reserve(loaded.size());
  Verdict overall = Verdict::passed;
  std::vector<nlohmann::json> journals;  // for --metrics-file
  if (!valid) {
    // Nothing runs when any file is invalid; the JUnit file still says why, for the pipeline.
    for (const auto& l : loaded)
      junit.push_back({l.result.experiment ? l.result.experiment->name : fs::path(l.file).stem().string(), l.file,
                       nullptr, l.result.experiment ? "not run: another file in this run is invalid"
                                                    : l.result.diagnostics.format_all()});
    write_text_file(report_dir + "/junit.xml", make_junit(junit));
    std::cerr << fmt::format("nothing was run; JUnit: {}/junit.xml\n", report_dir);
    return exit_code(Verdict::error);
  }
  const auto guarded_dir = guarded_state_dir(state_dir);
  if (!guarded_dir) return exit_code(Verdict::error);
  std::unique_ptr<History> history;
  if (!flags.no_history) {
    auto opened = History::open(flags.history.empty() ? History::default_path(report_dir, default_dir) : flags.history);
    if (!opened) {
      std::cerr << "error: " << opened.error().message << "\n";
      return exit_code(Verdict::error);
    }
    history = std::move(*opened);
  } else if (!flags.baseline.empty()) {
    std::cerr << "error: --baseline needs the history; drop --no-history\n";
    return exit_code(Verdict::error);
  }
  install_interrupt_handlers();
  RunOptions options;
  options.state_dir = *guarded_dir;
  options.live_progress = !no_progress && isatty(STDERR_FILENO);
  for (const auto& l : loaded) {
    const Experiment& ex = *l.result.experiment;
    options.output_dir = report_dir + "/" + ex.name;
    fs::create_directories(options.output_dir, ec);
    if (interrupt_signal()) break;
    results.push_back(run_experiment(ex, options));
    RunResult& r = results.back();
    if (history && !flags.baseline.empty()) apply_baseline(*history, flags.baseline, ex, r);
    auto journal = make_journal(ex, r);
    if (history) {
      if (auto id = history->record(journal, options.output_dir + "/journal.json"); !id)
        std::cerr << "error: " << id.error().message << "\n";
    }
    if (auto w = write_experiment_reports(ex, r, journal, options.output_dir); !w)
      std::cerr << "error: " << w.error().message << "\n";
    if (!metrics_file.empty()) {
      journal.erase("probes");  // the metrics need the figures, not every sample
      journals.push_back(std::move(journal));
    }
    junit.push_back({ex.name, l.file, &r, ""});
    print_result(ex, r, options.output_dir);
    overall = worst(overall, r.verdict);
  }
  if (auto w = write_text_file(report_dir + "/junit.xml", make_junit(junit)); !w)
    std::cerr << "error: " << w.error().message << "\n";
  if (!metrics_file.empty()) {
    // Written whole, then renamed: the textfile collector never reads half a file.
    if (auto w = write_text_file(metrics_file + ".tmp", make_prometheus_metrics(journals)); !w)
      std::cerr << "error: " << w.error().message << "\n";
    else fs::rename(metrics_file + ".tmp", metrics_file, ec);
  }
  std::cout << fmt::format("\nreports: {}  (JUnit: {}/junit.xml, HTML: report.html beside each journal)\n", report_dir,
                           report_dir);
  return exit_code(overall);
}

int cmd_faults() {
  std::cout << "Step types ([[method]] type = ...). Every step also takes: name, start (default \"0s\")";
  std::cout << ", and where noted target and duration.\n";
  for (const auto& t : step_registry()) {
    std::string extra;
    if (t.target == TargetRule::required) extra += "target (required)";
    if (t.duration == DurationRule::required) extra += std::string(extra.empty() ? "" : ", ") + "duration (required)";
    if (t.duration == DurationRule::optional) extra += std::string(extra.empty() ? "" : ", ") + "duration (optional)";
    std::cout << fmt::format("\n{}  [{}]\n  {}\n", t.name,
                             t.kind == StepKind::action ? "action" : (t.kind == StepKind::instant_fault ? "fault, instant" : "fault, lasting"),
                             t.summary);
    if (!extra.empty()) std::cout << fmt::format("  needs: {}\n", extra);
    for (const auto& p : t.params)
      std::cout << fmt::format("  {:<12} {:<20} default {:<14} {}\n", p.name, p.type,
                               p.default_value.empty() ? "(required)" : p.default_value, p.description);
  }
  std::cout << "\nToxics (tcp.toxic: toxic = ..., or toxics = [{ toxic = ..., ... }]). Every toxic also takes:";
  std::vector<std::string> common;
  for (const auto& p : toxic_common_params()) common.push_back(fmt::format("{} (default {})", p.name, p.default_value));
  std::cout << fmt::format(" {}.\n", fmt::join(common, ", "));
  for (const auto& t : toxic_registry()) {
    std::cout << fmt::format("\n{}\n  {}\n", t.name, t.summary);
    for (const auto& p : t.params)
      std::cout << fmt::format("  {:<14} {:<20} default {:<14} {}\n", p.name, p.type,
                               p.default_value.empty() ? "(required)" : p.default_value, p.description);
  }
  std::cout << "\nProbe types ([[probes]] type = ...). Every probe also takes: name, interval (default \"1s\", "
               "at least \"10ms\"), timeout (default \"1s\").\n";
  for (const auto& t : probe_registry()) {
    std::cout << fmt::format("\n{}\n  {}\n", t.name, t.summary);
    for (const auto& p : t.params)
      std::cout << fmt::format("  {:<14} {:<20} default {:<14} {}\n", p.name, p.type,
                               p.default_value.empty() ? "(required)" : p.default_value, p.description);
  }
  return 0;
}

// Re-renders HTML reports from journals: OUT is the file for one journal, a folder for several.
int cmd_report(const std::vector<std::string>& journals, const std::string& out) {
  if (out.empty()) {
    std::cerr << "error: say where the report goes: --html OUT\n";
    return exit_code(Verdict::error);
  }
  std::error_code ec;
  if (journals.size() > 1) fs::create_directories(out, ec);
  int status = 0;
  for (const auto& path : journals) {
    std::ifstream in(path);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!in || j.is_discarded() || !j.contains("schema_version")) {
      std::cerr << fmt::format("error: {} is not a rebound journal\n", path);
      status = exit_code(Verdict::error);
      continue;
    }
    std::string target = journals.size() > 1
                             ? fmt::format("{}/{}.html", out, j["experiment"].value("name", fs::path(path).stem().string()))
                             : out;
    if (auto w = write_text_file(target, make_html(j)); !w) {
      std::cerr << "error: " << w.error().message << "\n";
      status = exit_code(Verdict::error);
    } else {
      std::cout << target << "\n";
    }
  }
  return status;
}

// Runs a suite into report_dir and writes its reports; the suite's verdict.
Verdict run_and_report_suite(const Suite& suite, const std::string& report_dir, const RunFlags& flags, History* history) {
  std::error_code ec;
  fs::create_directories(report_dir, ec);
  RunOptions base;
  base.state_dir = flags.state_dir.empty() ? FaultRecorder::default_dir() : flags.state_dir;
  base.live_progress = !flags.no_progress && isatty(STDERR_FILENO);
  std::mutex history_mutex;
  auto outcome = run_suite(suite, base, report_dir, [&](const Experiment& ex, TrialRecord& trial) {
    const auto journal = make_journal(ex, trial.result);
    if (auto w = write_experiment_reports(ex, trial.result, journal, trial.dir); !w)
      std::cerr << "error: " << w.error().message << "\n";
    std::lock_guard lock(history_mutex);
    if (history) history->record(journal, trial.dir + "/journal.json");
    std::cout << fmt::format("{} trial {}: {}{}\n", ex.name, trial.trial, to_string(trial.result.verdict),
                             trial.result.metrics.time_to_recover_ms
                                 ? fmt::format(" (recovered in {:.1f} ms)", *trial.result.metrics.time_to_recover_ms)
                                 : "");
  });
  std::vector<JunitEntry> junit;
  for (const auto& t : outcome.trials)
    junit.push_back({fmt::format("{}.trial-{}", t.experiment, t.trial), suite.file, &t.result, ""});
  write_text_file(report_dir + "/junit.xml", make_junit(junit));
  write_text_file(report_dir + "/summary.md", make_suite_markdown(suite, outcome));
  std::map<std::string, std::vector<HistoryRow>> trend;
  if (history)
    for (const auto& e : outcome.entries) {
      auto rows = history->runs(e.experiment, 30);
      if (rows) trend[e.experiment].assign(rows->rbegin(), rows->rend());
    }
  write_text_file(report_dir + "/report.html", make_suite_html(suite, outcome, trend));
  std::cout << fmt::format("\n{}: {} (exit {})\n", suite.name, to_string(outcome.verdict), exit_code(outcome.verdict));
  for (const auto& e : outcome.entries)
    std::cout << fmt::format("  {:<6} {:<28} median {} over {} trials: {}\n", to_string(e.verdict), e.experiment,
                             e.stats.median ? fmt::format("{:.1f} ms", *e.stats.median) : "-", e.stats.trials, e.reason);
  std::cout << fmt::format("reports: {} (summary.md, report.html, junit.xml)\n", report_dir);
  return outcome.verdict;
}

std::optional<Suite> load_suite_or_say(const std::string& file) {
  auto loaded = load_suite(file, LoadOptions{bin_dir()});
  if (!loaded.ok()) {
    std::cerr << loaded.format_all();
    return std::nullopt;
  }
  return std::move(*loaded.suite);
}

std::unique_ptr<History> open_history_or_say(const RunFlags& flags, const std::string& report_dir, bool default_dir,
                                             bool& failed) {
  failed = false;
  if (flags.no_history) return nullptr;
  auto opened = History::open(flags.history.empty() ? History::default_path(report_dir, default_dir) : flags.history);
  if (!opened) {
    std::cerr << "error: " << opened.error().message << "\n";
    failed = true;
    return nullptr;
  }
  return std::move(*opened);
}

int cmd_gameday(const std::string& file, RunFlags flags) {
  auto suite = load_suite_or_say(file);
  if (!suite) return exit_code(Verdict::error);
  auto guarded_dir = guarded_state_dir(flags.state_dir);
  if (!guarded_dir) return exit_code(Verdict::error);
  flags.state_dir = *guarded_dir;
  const bool default_dir = flags.report_dir.empty();
  std::string report_dir = default_dir ? default_report_dir() : flags.report_dir;
  bool failed = false;
  auto history = open_history_or_say(flags, report_dir, default_dir, failed);
  if (failed) return exit_code(Verdict::error);
  install_interrupt_handlers();
  return exit_code(run_and_report_suite(*suite, report_dir, flags, history.get()));
}

// systemd units for users who prefer systemd's timers to `rebound schedule`.
int print_systemd(const std::string& file) {
  auto suite = load_suite_or_say(file);
  if (!suite) return exit_code(Verdict::error);
  if (!suite->schedule) {
    std::cerr << fmt::format("{} has no [schedule]\n", file);
    return exit_code(Verdict::error);
  }
  const auto& s = *suite->schedule;
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  const std::string path = fs::absolute(file, ec).string();
  std::cout << fmt::format("# /etc/systemd/system/rebound-{0}.service\n[Unit]\nDescription=rebound game-day: {1}\n"
                           "After=network-online.target\n\n[Service]\nType=oneshot\n"
                           "# Each run's reports go to a new folder under /var/lib/rebound/{0}/rebound-reports/.\n"
                           "StateDirectory=rebound/{0}\nWorkingDirectory=/var/lib/rebound/{0}\n"
                           "ExecStart={2} gameday {3} --no-progress\n"
                           "# SIGTERM makes rebound revert every fault before it exits.\nKillSignal=SIGTERM\n"
                           "TimeoutStopSec=120\n\n",
                           suite->name, suite->title, self, path);
  std::cout << fmt::format("# /etc/systemd/system/rebound-{}.timer\n[Unit]\nDescription=When to run rebound game-day "
                           "{}\n\n[Timer]\n",
                           suite->name, suite->name);
  std::cout << systemd_timer_lines(s) << "\n[Install]\nWantedBy=timers.target\n";
  return 0;
}

// Runs suites when they are due, in the foreground, until SIGTERM or SIGINT.
int cmd_schedule(const std::vector<std::string>& files, RunFlags flags) {
  std::vector<Suite> suites;
  for (const auto& f : files) {
    auto suite = load_suite_or_say(f);
    if (!suite) return exit_code(Verdict::error);
    if (!suite->schedule) {
      std::cerr << fmt::format("{}: no [schedule] table: add one with a time zone and cron = [\"...\"]\n", f);
      return exit_code(Verdict::error);
    }
    suites.push_back(std::move(*suite));
  }
  auto guarded_dir = guarded_state_dir(flags.state_dir);
  if (!guarded_dir) return exit_code(Verdict::error);
  flags.state_dir = *guarded_dir;
  const std::string base_dir = flags.report_dir.empty() ? "rebound-reports" : flags.report_dir;
  RunFlags history_flags = flags;
  if (history_flags.history.empty()) history_flags.history = base_dir + "/history.sqlite";
  bool failed = false;
  auto history = open_history_or_say(history_flags, base_dir, false, failed);
  if (failed || !history) {
    std::cerr << "error: rebound schedule needs its history (it keeps the schedule's state there)\n";
    return exit_code(Verdict::error);
  }
  install_interrupt_handlers();
  auto now = [] { return std::time(nullptr); };
  struct Slot {
    std::optional<std::time_t> next;
    std::thread worker;
    std::atomic<bool> running{false};
  };
  std::vector<Slot> slots(suites.size());
  std::mutex history_mutex;
  auto start = [&](size_t i, std::time_t due, const char* why) {
    Suite& suite = suites[i];
    if (slots[i].running) {
      spdlog::warn("suite {}: due at {} but its previous run is still going: skipped (never two at once)", suite.name,
                   format_local(due, suite.schedule->time_zone));
      return;
    }
    {
      std::lock_guard lock(history_mutex);
      history->set_last_due(suite.name, due);
    }
    if (slots[i].worker.joinable()) slots[i].worker.join();
    slots[i].running = true;
    spdlog::info("suite {}: starting ({})", suite.name, why);
    slots[i].worker = std::thread([&, i] {
      std::string dir = fmt::format("{}/{}/{}", base_dir, suites[i].name, now_stamp());
      Verdict v = run_and_report_suite(suites[i], dir, flags, history.get());
      spdlog::info("suite {}: {} (reports in {})", suites[i].name, to_string(v), dir);
      slots[i].running = false;
    });
  };
  for (size_t i = 0; i < suites.size(); ++i) {
    const auto& sched = *suites[i].schedule;
    auto last = history->last_due(suites[i].name);
    if (last && *last) {
      int missed = sched.missed(static_cast<std::time_t>(**last), now());
      if (missed > 0 && sched.run_missed_once) start(i, now(), fmt::format("{} run(s) missed while rebound was down; "
                                                                            "missed = run_once", missed).c_str());
      else if (missed > 0)
        spdlog::info("suite {}: {} run(s) missed while rebound was down; missed = skip", suites[i].name, missed);
    }
    int skipped = 0;
    slots[i].next = sched.next_due(now(), &skipped);
    spdlog::info("suite {}: next due {}{}", suites[i].name,
                 slots[i].next ? format_local(*slots[i].next, sched.time_zone) : std::string("never"),
                 skipped ? fmt::format(" ({} start(s) fall in blackout windows)", skipped) : "");
  }
  while (!interrupt_signal()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (size_t i = 0; i < suites.size(); ++i) {
      if (!slots[i].next || *slots[i].next > now()) continue;
      start(i, *slots[i].next, "due");
      slots[i].next = suites[i].schedule->next_due(now());
      spdlog::info("suite {}: next due {}", suites[i].name,
                   slots[i].next ? format_local(*slots[i].next, suites[i].schedule->time_zone) : std::string("never"));
    }
  }
  spdlog::info("stopping: {} received; suites in flight revert their faults first", signal_name(interrupt_signal()));
  for (auto& s : slots)
    if (s.worker.joinable()) s.worker.join();
  return 0;
}

int cmd_history(const std::string& path, const std::string& experiment, bool trend, int limit) {
  std::string file = path.empty() ? History::default_path("rebound-reports/x", true) : path;
  if (!fs::exists(file)) {
    std::cerr << fmt::format("no history at {} yet (rebound run records every run there)\n", file);
    return exit_code(Verdict::error);
  }
  auto history = History::open(file);
  if (!history) {
    std::cerr << "error: " << history.error().message << "\n";
    return exit_code(Verdict::error);
  }
  auto rows = (*history)->runs(experiment, limit);
  if (!rows) {
    std::cerr << "error: " << rows.error().message << "\n";
    return exit_code(Verdict::error);
  }
  auto ms = [](const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : std::string("-"); };
  if (!trend) {
    std::cout << fmt::format("{:>5}  {:<24}  {:<28} {:<12} {:>12} {:>8} {:>9}  {}\n", "run", "started", "experiment",
                             "verdict", "recover ms", "errors", "p99 ms", "host");
    for (const auto& r : *rows)
      std::cout << fmt::format("{:>5}  {:<24}  {:<28} {:<12} {:>12} {:>7.2f}% {:>9}  {}\n", r.id, r.started_at,
                               r.experiment, r.verdict, ms(r.time_to_recover_ms), r.error_ratio.value_or(0) * 100,
                               ms(r.p99_ms), r.host);
    return 0;
  }
  // Time to recover over runs, oldest first, one bar per run, per experiment.
  std::map<std::string, std::vector<HistoryRow>> by_experiment;
  for (auto it = rows->rbegin(); it != rows->rend(); ++it) by_experiment[it->experiment].push_back(*it);
  for (const auto& [name, runs] : by_experiment) {
    double top = 1;
    for (const auto& r : runs) top = std::max(top, r.time_to_recover_ms.value_or(0));
    std::cout << fmt::format("{}: time to recover over {} runs\n", name, runs.size());
    for (const auto& r : runs) {
      int bar = r.time_to_recover_ms ? static_cast<int>(*r.time_to_recover_ms / top * 40 + 0.5) : 0;
      std::cout << fmt::format("  run {:>4}  {:<24} {:>10} ms  {}{}\n", r.id, r.started_at, ms(r.time_to_recover_ms),
                               std::string(static_cast<size_t>(bar), '#'), r.time_to_recover_ms ? "" : "(no recovery: " + r.verdict + ")");
    }
    std::vector<double> values;
    for (const auto& r : runs)
      if (r.time_to_recover_ms) values.push_back(*r.time_to_recover_ms);
    if (values.size() >= 2)
      std::cout << fmt::format("  first {:.1f} ms, last {:.1f} ms ({:+.0f}%)\n", values.front(), values.back(),
                               (values.back() / values.front() - 1) * 100);
  }
  return 0;
}

// Whether a qdisc is built in, loaded, or installed as a module for the running kernel.
bool kernel_has_qdisc(const std::string& name) {
  utsname u{};
  uname(&u);
  std::string module = "sch_" + name;
  if (fs::exists("/sys/module/" + module)) return true;
  std::string dir = std::string("/lib/modules/") + u.release;
  std::ifstream builtin(dir + "/modules.builtin");
  for (std::string line; std::getline(builtin, line);)
    if (line.ends_with("/" + module + ".ko")) return true;
  std::ifstream modules(dir + "/modules.dep");
  for (std::string line; std::getline(modules, line);)
    if (line.find("/" + module + ".ko") != std::string::npos && line.find("/" + module + ".ko") < line.find(':'))
      return true;
  return false;
}

int cmd_doctor() {
  utsname u{};
  uname(&u);
  std::cout << fmt::format("kernel {} {} ({}), running as uid {}\n", u.sysname, u.release, u.machine, geteuid());
  std::cout << fmt::format("cgroup v2: {}\n", cgroup2_mount().empty() ? "not mounted" : "mounted at " + cgroup2_mount());
  int missing = 0;
  for (const auto& t : step_registry()) {
    Result<void> ok;
    if (t.available) ok = t.available();
    if (ok) {
      std::cout << fmt::format("  available    {}\n", t.name);
    } else {
      ++missing;
      std::cout << fmt::format("  unavailable  {:<18} {}\n", t.name, ok.error().message);
    }
  }
  std::cout << "network backends:\n"
               "  packet faults                tc clsact and cgroup_skb programs (BPF; no netem, no iptables needed)\n"
               "  network.delay, tcp.toxic     rebound's proxy, fed by connect() hooks on the target's cgroup (BPF)\n";
  // rebound has no netem or EDT backend yet; say whether this kernel could carry one.
  for (auto [qdisc, use] : {std::pair{"netem", "netem delay on an interface"}, std::pair{"fq", "EDT delay (skb->tstamp)"}})
    std::cout << fmt::format("  {:<28} {}\n", use,
                             kernel_has_qdisc(qdisc) ? fmt::format("sch_{} is on this kernel; rebound does not use it yet", qdisc)
                                                     : fmt::format("sch_{} is not on this kernel", qdisc));
  return missing ? 1 : 0;
}

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

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == kGuardianCommand) return guardian_command(argc, argv);
  auto logger = spdlog::stderr_color_mt("rebound");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%H:%M:%S.%e %l]%$ %v");

  CLI::App app{"rebound: chaos experiments with verdicts you can gate on"};
  app.set_version_flag("--version", REBOUND_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  std::vector<std::string> files;
  std::string state_dir, html_out, experiment_filter, history_path;
  RunFlags flags;
  bool force = false, trend = false;
  int limit = 50;

  auto* run = app.add_subcommand("run", "Run experiments and write their reports");
  run->add_option("files", files, "experiment files")->required();
  run->add_option("--report-dir", flags.report_dir, "where reports go (default: a new folder under rebound-reports/)");
  run->add_flag("--dry-run", flags.dry, "validate, resolve targets and print the timeline; inject nothing");
  run->add_option("--state-dir", flags.state_dir, "where fault records are kept (default: /run/rebound as root)");
  run->add_flag("--no-progress", flags.no_progress, "plain log lines even on a terminal");
  run->add_option("--metrics-file", flags.metrics_file, "also write the figures in Prometheus text format (textfile collector)");
  run->add_option("--history", flags.history, "the history database (default: history.sqlite beside the run folders)");
  run->add_flag("--no-history", flags.no_history, "do not record this run");
  run->add_option("--baseline", flags.baseline,
                  "last or a run id: fail when time to recover regressed beyond slo.max_recovery_regression");

  auto* validate = app.add_subcommand("validate", "Check experiment and game-day suite files; exit 0 if valid, 4 if not");
  validate->add_option("files", files, "experiment or suite files")->required();

  app.add_subcommand("faults", "List every step and probe type with its parameters and defaults");
  std::string suite_file;
  auto* gameday = app.add_subcommand("gameday", "Run a game-day suite now");
  gameday->add_option("file", suite_file, "suite file")->required();
  gameday->add_option("--report-dir", flags.report_dir, "where reports go (default: a new folder under rebound-reports/)");
  gameday->add_option("--state-dir", flags.state_dir, "where fault records are kept");
  gameday->add_option("--history", flags.history, "the history database");
  gameday->add_flag("--no-progress", flags.no_progress, "plain log lines even on a terminal");
  gameday->add_flag("--no-history", flags.no_history, "do not record the trials");
  std::vector<std::string> schedule_files;
  bool systemd = false;
  auto* schedule = app.add_subcommand("schedule", "Run suites when their [schedule] says, in the foreground");
  schedule->add_option("files", schedule_files, "suite files with a [schedule]")->required();
  schedule->add_option("--report-dir", flags.report_dir, "where runs go (default: rebound-reports/SUITE/TIME)");
  schedule->add_option("--state-dir", flags.state_dir, "where fault records are kept");
  schedule->add_option("--history", flags.history, "the history database (default: REPORT-DIR/history.sqlite)");
  schedule->add_flag("--print-systemd", systemd, "print a systemd service and timer for the suite instead");
  auto* history_cmd = app.add_subcommand("history", "List recorded runs, or the trend of time to recover");
  history_cmd->add_option("--experiment", experiment_filter, "only this experiment");
  history_cmd->add_option("--history", history_path, "the history database (default: rebound-reports/history.sqlite)");
  history_cmd->add_flag("--trend", trend, "time to recover over runs, per experiment");
  history_cmd->add_option("--limit", limit, "how many runs, newest first")->capture_default_str();
  auto* report = app.add_subcommand("report", "Re-render HTML reports from journals");
  report->add_option("journals", files, "journal.json files")->required();
  report->add_option("--html", html_out, "the HTML file (one journal) or folder (several)")->required();
  app.add_subcommand("doctor", "Tell which fault types this host can inject, and why not");

  auto* recover = app.add_subcommand("recover", "Undo faults left behind by a rebound that died");
  recover->add_option("--state-dir", state_dir, "where fault records are kept (default: /run/rebound as root)");
  recover->add_flag("--force", force, "also undo faults of a rebound that is still running");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : exit_code(Verdict::error);
  }
  spdlog::set_level(spdlog::level::from_str(log_level));
  try {
    if (run->parsed()) return cmd_run(files, flags);
    if (gameday->parsed()) return cmd_gameday(suite_file, flags);
    if (schedule->parsed()) {
      flags.no_progress = true;
      return systemd ? print_systemd(schedule_files.at(0)) : cmd_schedule(schedule_files, flags);
    }
    if (history_cmd->parsed()) return cmd_history(history_path, experiment_filter, trend, limit);
    if (report->parsed()) return cmd_report(files, html_out);
    if (validate->parsed()) return cmd_validate(files);
    if (app.got_subcommand("faults")) return cmd_faults();
    if (app.got_subcommand("doctor")) return cmd_doctor();
    if (recover->parsed()) return cmd_recover(state_dir, force);
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return exit_code(Verdict::error);
  }
  return exit_code(Verdict::error);
}
