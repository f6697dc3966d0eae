#include "cli/suite_run.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <map>
#include <mutex>
#include <unistd.h>

#include "system/fault_record.hpp"
#include "reports/journal.hpp"
#include "reports/junit.hpp"
#include "reports/report_writer.hpp"
#include "reports/suite_report.hpp"

namespace fs = std::filesystem;

namespace rebound {
namespace {

void write_suite_reports(const Suite& suite, const SuiteOutcome& outcome, const std::string& report_dir,
                         History* history) {
  std::vector<JunitEntry> junit;
  for (const auto& t : outcome.trials)
    junit.push_back({fmt::format("{}.trial-{}", t.experiment, t.trial), suite.file, &t.result, ""});
  auto say = [](const Result<void>& written) {
    if (!written) std::cerr << "error: " << written.error().message << "\n";
  };
  say(write_text_file(report_dir + "/junit.xml", make_junit(junit)));
  say(write_text_file(report_dir + "/summary.md", make_suite_markdown(suite, outcome)));
  std::map<std::string, std::vector<HistoryRow>> trend;
  if (history)
    for (const auto& e : outcome.entries) {
      auto rows = history->runs(e.experiment, 30);
      if (rows) trend[e.experiment].assign(rows->rbegin(), rows->rend());
    }
  say(write_text_file(report_dir + "/report.html", make_suite_html(suite, outcome, trend)));
}

void print_suite_result(const Suite& suite, const SuiteOutcome& outcome, const std::string& report_dir) {
  std::cout << fmt::format("\n{}: {} (exit {})\n", suite.name, to_string(outcome.verdict), exit_code(outcome.verdict));
  for (const auto& e : outcome.entries)
    std::cout << fmt::format("  {:<6} {:<28} median {} over {} trials: {}\n", to_string(e.verdict), e.experiment,
                             e.stats.median ? fmt::format("{:.1f} ms", *e.stats.median) : "-", e.stats.trials, e.reason);
  std::cout << fmt::format("reports: {} (summary.md, report.html, junit.xml)\n", report_dir);
}

}  // namespace

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
    if (history)
      if (auto recorded = history->record(journal, trial.dir + "/journal.json"); !recorded)
        std::cerr << "warning: not in the history: " << recorded.error().message << "\n";
    std::cout << fmt::format("{} trial {}: {}{}\n", ex.name, trial.trial, to_string(trial.result.verdict),
                             trial.result.metrics.time_to_recover_ms
                                 ? fmt::format(" (recovered in {:.1f} ms)", *trial.result.metrics.time_to_recover_ms)
                                 : "");
  });
  write_suite_reports(suite, outcome, report_dir, history);
  print_suite_result(suite, outcome, report_dir);
  return outcome.verdict;
}

}  // namespace rebound
