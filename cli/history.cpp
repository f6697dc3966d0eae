// rebound history: the recorded runs as a table, or time to recover and time to heal over runs as ASCII charts.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "history/trend.hpp"

namespace fs = std::filesystem;

namespace rebound {
namespace {

std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : std::string("-"); }

void print_table(const std::vector<HistoryRow>& rows) {
  // The error ratio and p99 are the impact phase's (first fault to recovery), as max_error_ratio judges them.
  std::cout << fmt::format("{:>5}  {:<24}  {:<28} {:<12} {:>10} {:>12} {:>15} {:>14}  {}\n", "run", "started",
                           "experiment", "verdict", "heal ms", "recover ms", "impact error %", "impact p99 ms", "host");
  for (const auto& r : rows)
    std::cout << fmt::format("{:>5}  {:<24}  {:<28} {:<12} {:>10} {:>12} {:>15} {:>14}  {}\n", r.id, r.started_at,
                             r.experiment, r.verdict, ms(r.time_to_heal_ms), ms(r.time_to_recover_ms),
                             r.error_ratio ? fmt::format("{:.2f}%", *r.error_ratio * 100) : std::string("-"),
                             ms(r.p99_ms), r.host);
}

// One metric over runs, oldest first, one bar per run.
void print_metric_trend(const std::string& name, const std::vector<HistoryRow>& runs, const char* what,
                        const char* never, std::optional<double> HistoryRow::*metric, const char* slo_name,
                        std::optional<double> HistoryRow::*slo) {
  double top = 1;
  for (const auto& r : runs) top = std::max(top, (r.*metric).value_or(0));
  std::cout << fmt::format("{}: {} over {} runs\n", name, what, runs.size());
  std::vector<double> values;
  for (const auto& r : runs) {
    const auto& v = r.*metric;
    int bar = v ? static_cast<int>(*v / top * 40 + 0.5) : 0;
    std::cout << fmt::format("  run {:>4}  {:<24} {:>10} ms  {}{}\n", r.id, r.started_at, ms(v),
                             std::string(static_cast<size_t>(bar), '#'), v ? "" : fmt::format("({}: {})", never, r.verdict));
    if (v) values.push_back(*v);
  }
  if (values.size() >= 2)
    std::cout << fmt::format("  first {:.1f} ms, last {:.1f} ms ({:+.0f}%)\n", values.front(), values.back(),
                             (values.back() / values.front() - 1) * 100);
  if (auto fit = fit_trend(values))
    std::cout << "  trend: " << describe_trend(*fit, what, slo_name, runs.back().*slo) << "\n";
  else
    std::cout << fmt::format("  trend: needs at least {} runs with a value, {} so far\n", TrendFit::kMinRuns,
                             values.size());
}

// Time to recover over runs, per experiment, and time to heal where it is not just recovery (a lasting fault).
void print_trend(const std::vector<HistoryRow>& rows) {
  std::map<std::string, std::vector<HistoryRow>> by_experiment;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) by_experiment[it->experiment].push_back(*it);
  for (const auto& [name, runs] : by_experiment) {
    print_metric_trend(name, runs, "time to recover", "no recovery", &HistoryRow::time_to_recover_ms,
                       "recover_within", &HistoryRow::recover_within_ms);
    if (std::any_of(runs.begin(), runs.end(),
                    [](const HistoryRow& r) { return r.time_to_heal_ms != r.time_to_recover_ms; }))
      print_metric_trend(name, runs, "time to heal under the fault", "did not heal", &HistoryRow::time_to_heal_ms,
                         "heal_within", &HistoryRow::heal_within_ms);
  }
}

struct HistoryFlags {
  std::string path, experiment;
  bool trend = false;
  int limit = 50;
};

int cmd_history(const HistoryFlags& flags) {
  std::string file = flags.path.empty() ? History::default_path() : flags.path;
  if (!fs::exists(file)) {
    std::cerr << fmt::format("no history at {} yet (rebound run records every run there)\n", file);
    return exit_code(Verdict::error);
  }
  auto history = open_history_or_say(file);
  if (!history) return exit_code(Verdict::error);
  auto rows = history->runs(flags.experiment, flags.limit);
  if (!rows) {
    std::cerr << "error: " << rows.error().message << "\n";
    return exit_code(Verdict::error);
  }
  if (flags.trend) print_trend(*rows);
  else print_table(*rows);
  return 0;
}

}  // namespace

Command add_history_command(CLI::App& app) {
  auto flags = std::make_shared<HistoryFlags>();
  auto* cmd = app.add_subcommand("history", "List recorded runs, or the trend of time to recover and time to heal");
  cmd->add_option("--experiment", flags->experiment, "only this experiment");
  cmd->add_option("--history", flags->path, "the history database (default: REBOUND_HISTORY, else /var/lib/rebound/history.sqlite for root, "
                  "~/.local/state/rebound/history.sqlite otherwise)");
  cmd->add_flag("--trend", flags->trend, "time to recover and time to heal over runs, per experiment, with a trend test (Theil-Sen slope, Mann-Kendall) "
                "and when the trend crosses the SLO");
  cmd->add_option("--limit", flags->limit, "how many runs, newest first")->capture_default_str();
  return {cmd, [flags] { return cmd_history(*flags); }};
}

}  // namespace rebound
