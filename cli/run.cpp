// rebound run: runs experiments one after the other and writes their reports, the JUnit file and the history.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/trend_gate.hpp"
#include "cli/dry_run.hpp"
#include "config/templates.hpp"
#include "experiments/runner.hpp"
#include "system/signals.hpp"
#include "reports/journal.hpp"
#include "reports/junit.hpp"
#include "reports/metrics.hpp"
#include "reports/report_writer.hpp"

namespace fs = std::filesystem;

namespace rebound {
namespace {

// What one `rebound run` writes to, beyond each experiment's own folder.
struct RunSession {
  std::string report_dir;
  std::unique_ptr<History> history;
  std::vector<JunitEntry> junit;
  std::vector<RunResult> results;
  std::vector<nlohmann::json> journals;  // for --metrics-file
  Verdict overall = Verdict::passed;
  std::vector<std::string> secrets;  // every experiment's ${env.*} values, masked in the JUnit file
};

void print_result(const Experiment& ex, const RunResult& r, const std::string& dir) {
  std::cout << fmt::format("\n{}: {} (exit {})\n", ex.name, to_string(r.verdict), exit_code(r.verdict));
  for (const auto& c : r.criteria)
    std::cout << fmt::format("  {} {:<22} {}\n", c.passed ? "pass" : c.measured ? "FAIL" : "-   ", c.name,
                             mask_secrets(c.detail, ex.secrets));
  // A failed criterion is its own reason ("name: detail"): printed once, on its FAIL line above.
  for (const auto& reason : r.reasons) {
    const bool repeats = std::any_of(r.criteria.begin(), r.criteria.end(), [&](const Criterion& c) {
      return !c.passed && reason == fmt::format("{}: {}", c.name, c.detail);
    });
    if (!repeats) std::cout << fmt::format("  why: {}\n", mask_secrets(reason, ex.secrets));
  }
  const auto& m = r.metrics;
  if (m.time_to_heal_ms)
    std::cout << fmt::format("  time to heal: {:.1f} ms{}\n", *m.time_to_heal_ms,
                             m.heal_is_recovery ? " (instant faults: time to heal is time to recover)" : ", under fault");
  else if (m.first_fault_ms && !m.heal_is_recovery)
    std::cout << fmt::format("  time to heal: did not heal under the fault (it lasted {:.1f} s)\n",
                             m.under_fault_ms.value_or(0) / 1000);
  if (m.time_to_recover_ms) std::cout << fmt::format("  time to recover: {:.1f} ms\n", *m.time_to_recover_ms);
  std::cout << fmt::format("  report: {}/summary.md\n", dir);
}

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
  auto judge = [&](Criterion c) {
    if (!c.passed && r.verdict == Verdict::passed) {
      r.verdict = Verdict::failed;
      r.reasons.push_back(fmt::format("{}: {}", c.name, c.detail));
    }
    r.criteria.push_back(std::move(c));
  };
  // A run that did not recover or heal at all is judged by recover_within and heal_within.
  if (row.time_to_recover_ms && r.metrics.time_to_recover_ms)
    judge(regression_criterion(*r.metrics.time_to_recover_ms, *row.time_to_recover_ms, row.id,
                               ex.slo.max_recovery_regression));
  // Healing under a lasting fault only: with instant faults it is recovery, judged just above.
  if (row.time_to_heal_ms && r.metrics.time_to_heal_ms && !r.metrics.heal_is_recovery)
    judge(heal_regression_criterion(*r.metrics.time_to_heal_ms, *row.time_to_heal_ms, row.id,
                                    ex.slo.max_recovery_regression));
}

int dry_run_all(const std::vector<Loaded>& loaded, bool valid) {
  if (!valid) return exit_code(Verdict::error);
  int status = 0;
  for (const auto& l : loaded) status = std::max(status, dry_run(*l.result.experiment));
  return status;
}

// Nothing runs when any file is invalid; the JUnit file still says why, for the pipeline.
int refuse_invalid(const std::vector<Loaded>& loaded, const std::string& report_dir) {
  std::vector<JunitEntry> junit;
  for (const auto& l : loaded)
    junit.push_back({l.result.experiment ? l.result.experiment->name : fs::path(l.file).stem().string(), l.file,
                     nullptr, l.result.experiment ? "not run: another file in this run is invalid"
                                                  : l.result.diagnostics.format_all()});
  if (auto w = write_text_file(report_dir + "/junit.xml", make_junit(junit)); !w)
    std::cerr << "error: " << w.error().message << "\n";
  std::cerr << fmt::format("nothing was run; JUnit: {}/junit.xml\n", report_dir);
  return exit_code(Verdict::error);
}

// The history unless --no-history; false after saying why the run cannot go on.
bool open_run_history(const RunFlags& flags, RunSession& session) {
  if (!flags.no_history) {
    session.history = open_history_or_say(history_file(flags));
    return session.history != nullptr;
  }
  if (!flags.baseline.empty()) {
    std::cerr << "error: --baseline needs the history; drop --no-history\n";
    return false;
  }
  return true;
}

// Runs one experiment into its folder, records it and writes its reports.
void run_one(const Loaded& l, const RunFlags& flags, RunOptions& options, RunSession& session) {
  const Experiment& ex = *l.result.experiment;
  session.results.push_back(run_experiment(ex, options));
  RunResult& r = session.results.back();
  if (session.history && !flags.baseline.empty()) apply_baseline(*session.history, flags.baseline, ex, r);
  if (session.history) apply_trend_gate(*session.history, ex, r);
  else if (ex.slo.max_trend)
    std::cerr << fmt::format("note: max_trend of {} not judged: it needs the history (--no-history)\n", ex.name);
  auto journal = make_journal(ex, r);
  if (session.history) {
    if (auto id = session.history->record(journal, options.output_dir + "/journal.json"); !id)
      std::cerr << "error: " << id.error().message << "\n";
  }
  if (auto w = write_experiment_reports(ex, r, journal, options.output_dir); !w)
    std::cerr << "error: " << w.error().message << "\n";
  if (!flags.metrics_file.empty()) {
    journal.erase("probes");  // the metrics need the figures, not every sample
    session.journals.push_back(std::move(journal));
  }
  session.junit.push_back({ex.name, l.file, &r, ""});
  session.secrets.insert(session.secrets.end(), ex.secrets.begin(), ex.secrets.end());
  print_result(ex, r, options.output_dir);
  session.overall = worst(session.overall, r.verdict);
}

void write_run_outputs(const RunSession& session, const std::string& metrics_file) {
  if (auto w = write_text_file(session.report_dir + "/junit.xml", mask_secrets(make_junit(session.junit), session.secrets));
      !w)
    std::cerr << "error: " << w.error().message << "\n";
  if (!metrics_file.empty()) {
    // Written whole, then renamed: the textfile collector never reads half a file.
    std::error_code ec;
    if (auto w = write_text_file(metrics_file + ".tmp", make_prometheus_metrics(session.journals)); !w)
      std::cerr << "error: " << w.error().message << "\n";
    else fs::rename(metrics_file + ".tmp", metrics_file, ec);
  }
  std::cout << fmt::format("\nreports: {}  (JUnit: {}/junit.xml, HTML: report.html beside each journal)\n",
                           session.report_dir, session.report_dir);
}

int cmd_run(const std::vector<std::string>& files, const RunFlags& flags) {
  bool valid = false;
  auto vars = collect_vars(flags.vars);
  if (!vars) return exit_code(Verdict::error);
  auto loaded = load_all(files, valid, *vars);
  if (flags.dry) return dry_run_all(loaded, valid);
  if (refuse_if_halted(flags.state_dir)) return kExitHalted;
  RunSession session;
  const bool default_dir = flags.report_dir.empty();
  session.report_dir = default_dir ? default_report_dir() : flags.report_dir;
  std::error_code ec;
  fs::create_directories(session.report_dir, ec);
  if (ec) {
    std::cerr << fmt::format("error: cannot create report directory {}: {}\n", session.report_dir, ec.message());
    return exit_code(Verdict::error);
  }
  if (!valid) return refuse_invalid(loaded, session.report_dir);
  const auto guarded_dir = guarded_state_dir(flags.state_dir);
  if (!guarded_dir) return exit_code(Verdict::error);
  if (!open_run_history(flags, session)) return exit_code(Verdict::error);
  install_interrupt_handlers();
  RunOptions options;
  options.state_dir = *guarded_dir;
  options.live_progress = !flags.no_progress && isatty(STDERR_FILENO);
  session.results.reserve(loaded.size());  // the JUnit entries point into it
  for (const auto& l : loaded) {
    options.output_dir = session.report_dir + "/" + l.result.experiment->name;
    fs::create_directories(options.output_dir, ec);
    if (interrupt_signal()) break;
    run_one(l, flags, options, session);
  }
  write_run_outputs(session, flags.metrics_file);
  return exit_code(session.overall);
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto flags = std::make_shared<RunFlags>();
  auto* run = app.add_subcommand("run", "Run experiments and write their reports");
  run->add_option("files", *files, "experiment files")->required();
  run->add_option("--report-dir", flags->report_dir, "where reports go (default: a new folder under rebound-reports/)");
  run->add_flag("--dry-run", flags->dry, "validate, resolve targets and print the timeline; inject nothing");
  run->add_option("--state-dir", flags->state_dir, "where fault records are kept (default: /run/rebound as root)");
  run->add_flag("--no-progress", flags->no_progress, "plain log lines even on a terminal");
  run->add_option("--metrics-file", flags->metrics_file,
                  "also write the figures in Prometheus text format (textfile collector)");
  run->add_option("--history", flags->history, "the history database (default: REBOUND_HISTORY, else /var/lib/rebound/history.sqlite for root, "
                  "~/.local/state/rebound/history.sqlite otherwise)");
  run->add_flag("--no-history", flags->no_history, "do not record this run");
  run->add_option("--baseline", flags->baseline,
                  "last or a run id: fail when time to recover or time to heal regressed beyond slo.max_recovery_regression");
  add_var_options(run, flags->vars);
  return {run, [files, flags] { return cmd_run(*files, *flags); }};
}

}  // namespace rebound
