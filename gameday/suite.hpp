#pragma once
// Game-day suites: groups of experiments run in series or in parallel, each entry repeated as trials,
// summarised statistically and judged by the suite's pass_if.
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "experiments/experiment.hpp"
#include "experiments/loader.hpp"
#include "experiments/runner.hpp"
#include "gameday/schedule.hpp"

namespace rebound {

struct SuiteEntry {
  std::string file;  // resolved against the suite file's folder
  int repeat = 1;
  Experiment experiment;
};

struct SuiteGroup {
  std::string name;
  bool parallel = false;
  std::vector<SuiteEntry> entries;
};

struct Suite {
  std::string name, title, file;
  std::optional<double> pass_share;  // nullopt: "all" trials must pass
  bool stop_on_failure = false;
  Millis pause{0};  // between entries of a serial group, and between groups
  std::vector<SuiteGroup> groups;
  std::optional<Schedule> schedule;  // for `rebound schedule`
};

struct SuiteLoad {
  std::optional<Suite> suite;
  std::vector<Diagnostics> diagnostics;  // the suite file's, then each experiment file's
  bool ok() const { return suite.has_value(); }
  std::string format_all() const;
};

SuiteLoad load_suite(const std::string& path, const LoadOptions& options);

// Time to recover over the trials of one entry. A trial that never recovered counts as +inf (slower than any),
// so it moves the median up instead of being left out; a statistic that lands on such a trial is nullopt:
// no median when more than half never recovered (or half, of an even number), no max when any did not.
struct TrialStats {
  size_t trials = 0, passed = 0;
  size_t measured = 0, recovered = 0;  // trials whose fault was applied; of those, the ones that recovered
  std::optional<double> min, median, p95, max;
  // A distribution-free confidence interval for the median from order statistics, and its actual coverage
  // (the binomial sum; with few trials it is below 95%, and says so). An unbounded end is nullopt.
  std::optional<double> median_low, median_high;
  double median_coverage = 0;
  std::string note;  // "3 of 5 trials never recovered: no median", or empty
};
TrialStats trial_stats(const std::vector<std::optional<double>>& times_to_recover, size_t passed);

struct TrialRecord {
  std::string experiment, dir;
  int trial = 0;
  std::string group;
  RunResult result;
};

struct EntryOutcome {
  std::string experiment, group;
  TrialStats stats;
  Verdict verdict = Verdict::passed;
  std::string reason;
};

struct SuiteOutcome {
  std::vector<TrialRecord> trials;
  std::vector<EntryOutcome> entries;
  Verdict verdict = Verdict::passed;
  bool stopped_early = false;
  // When and where it ran, for the report's header: the start (UTC milliseconds since the epoch), how long
  // the whole suite took, and the host's name.
  int64_t started_unix_ms = 0;
  double duration_ms = 0;
  std::string host;
};

// Runs the suite; each trial's reports go to DIR/<experiment>/trial-N (written by `on_trial`).
SuiteOutcome run_suite(const Suite& suite, const RunOptions& base, const std::string& report_dir,
                       const std::function<void(const Experiment&, TrialRecord&)>& on_trial);

// Judges one entry's trials: passed when the share of passed trials meets pass_if and none errored.
EntryOutcome judge_entry(const std::string& experiment, const std::string& group,
                         const std::vector<const RunResult*>& trials, const std::optional<double>& pass_share);

}  // namespace rebound
