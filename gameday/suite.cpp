#include "gameday/suite.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "system/signals.hpp"
#include "config/table_reader.hpp"
#include "config/toml_input.hpp"

namespace fs = std::filesystem;

namespace rebound {

std::string SuiteLoad::format_all() const {
  std::string out;
  for (const auto& d : diagnostics) out += d.format_all();
  return out;
}

namespace {

// pass_if, on_failure and pause: how the suite judges and paces its trials.
void parse_suite_policy(TableReader& top, Suite& suite) {
  if (const toml::node* p = top.node("pass_if")) {
    if (p->is_string() && *p->value<std::string>() == "all") {
      suite.pass_share.reset();
    } else if (p->is_number() && *p->value<double>() > 0 && *p->value<double>() <= 1) {
      suite.pass_share = *p->value<double>();
    } else {
      top.error("pass_if", fmt::format("expected \"all\" or a share of trials from 0 to 1 such as 0.95, got {}",
                                       describe_node(*p)));
    }
  }
  if (auto f = top.string("on_failure")) {
    if (*f == "stop") suite.stop_on_failure = true;
    else if (*f != "continue") top.error("on_failure", fmt::format("'{}': use \"continue\" or \"stop\"", *f));
  }
  if (auto p = top.duration("pause")) suite.pause = *p;
}

// What the entries of every group share while they load.
struct EntryContext {
  const std::string& path;  // the suite file
  fs::path base;            // its folder, which entries' files are relative to
  LoadOptions with_shared;  // the load options with the suite's shared definitions
  std::set<std::string> names;  // experiment names so far: two entries of one experiment would share reports
  std::vector<Diagnostics>& experiment_diagnostics;
};

// One [[groups.experiments]] entry: its file loaded as an experiment; nothing when it has an error.
std::optional<SuiteEntry> parse_entry(TableReader& er, EntryContext& c) {
  auto file = er.string("file", true);
  const int64_t asked = er.integer("repeat").value_or(1);
  if (asked < 1 || asked > 10000) er.error("repeat", fmt::format("repeat must be from 1 to 10000, got {}", asked));
  int repeat = static_cast<int>(std::clamp<int64_t>(asked, 1, 10000));
  er.finish();
  if (!file) return std::nullopt;
  SuiteEntry entry;
  entry.file = (c.base / *file).lexically_normal().string();
  entry.repeat = std::max(repeat, 1);
  std::error_code same_ec;
  if (fs::equivalent(entry.file, c.path, same_ec)) {
    er.error("file", fmt::format("'{}' is this suite itself; a suite lists experiment files", clip(*file)));
    return std::nullopt;
  }
  auto loaded = load_experiment(entry.file, c.with_shared);
  if (!loaded.experiment) {
    c.experiment_diagnostics.push_back(std::move(loaded.diagnostics));
    return std::nullopt;
  }
  entry.experiment = std::move(*loaded.experiment);
  if (!c.names.insert(entry.experiment.name).second)
    er.error("file", fmt::format("experiment '{}' appears twice in the suite: its reports would collide; use repeat",
                                 entry.experiment.name));
  return entry;
}

// One [[groups]] table: its name, mode and entries.
SuiteGroup parse_group(TableReader& gr, size_t g, Diagnostics& d, EntryContext& c) {
  SuiteGroup group;
  group.name = gr.string("name").value_or(fmt::format("group {}", g + 1));
  std::string mode = gr.string("mode").value_or("serial");
  if (mode == "parallel") group.parallel = true;
  else if (mode != "serial") gr.error("mode", fmt::format("'{}': use \"serial\" or \"parallel\"", mode));
  const toml::array* entries = gr.array("experiments");
  if (!entries || entries->empty()) gr.error("experiments", "add at least one [[groups.experiments]] with file = \"...\"");
  for (size_t e = 0; entries && e < entries->size(); ++e) {
    const toml::table* et = (*entries)[e].as_table();
    if (!et) continue;
    TableReader er(*et, fmt::format("groups[{}].experiments[{}]", g, e), d);
    if (auto entry = parse_entry(er, c)) group.entries.push_back(std::move(*entry));
  }
  gr.finish();
  return group;
}

}  // namespace

SuiteLoad load_suite(const std::string& path, const LoadOptions& options) {
  SuiteLoad out;
  // The suite file's own diagnostics stay here while the experiments' are collected (readers keep a reference
  // to it, so it must not live in a vector that grows), and go first in the result.
  Diagnostics d(path);
  std::vector<Diagnostics> experiment_diagnostics;
  auto result = [&] {
    out.diagnostics.clear();
    out.diagnostics.push_back(std::move(d));
    for (auto& e : experiment_diagnostics) out.diagnostics.push_back(std::move(e));
    return out;
  };
  auto text = read_input_file(path);
  if (!text) {
    d.error(0, 0, "file", text.error().message);
    return result();
  }
  auto parsed = parse_toml_bounded(*text, path, d);
  if (!parsed) return result();
  // Owned by a shared_ptr: experiments parse the shared definitions from this very table (moving keeps the
  // source positions that errors quote).
  auto shared_root = std::make_shared<toml::table>(std::move(*parsed));
  const toml::table& root = *shared_root;
  Suite suite;
  suite.file = path;
  TableReader top(root, "", d);
  suite.name = top.string("name").value_or(fs::path(path).stem().string());
  suite.title = top.string("title").value_or(suite.name);
  parse_suite_policy(top, suite);
  EntryContext entries{path, fs::path(path).parent_path(), options, {}, experiment_diagnostics};
  // Shared definitions: parsed with each experiment that uses them; here they are only marked as known.
  top.array("targets");
  top.array("probes");
  entries.with_shared.shared = shared_root;
  entries.with_shared.shared_file = path;
  const toml::array* groups = top.array("groups");
  if (!groups || groups->empty()) top.error("groups", "a suite needs at least one [[groups]] with [[groups.experiments]]");
  for (size_t g = 0; groups && g < groups->size(); ++g) {
    const toml::table* gt = (*groups)[g].as_table();
    if (!gt) continue;
    TableReader gr(*gt, fmt::format("groups[{}]", g), d);
    suite.groups.push_back(parse_group(gr, g, d, entries));
  }
  if (const toml::table* st = top.table("schedule")) {
    TableReader sr(*st, "schedule", d);
    suite.schedule = parse_schedule(sr, suite.name);
  }
  top.finish();
  bool clean = d.empty();
  for (const auto& diag : experiment_diagnostics) clean = clean && diag.empty();
  if (clean) out.suite = std::move(suite);
  return result();
}

TrialStats trial_stats(const std::vector<std::optional<double>>& ttr, size_t passed) {
  TrialStats s;
  s.trials = s.measured = ttr.size();
  s.passed = passed;
  // A trial that never recovered took longer than any that did: +inf, sorted last, never left out.
  std::vector<double> v;
  for (const auto& x : ttr) v.push_back(x.value_or(std::numeric_limits<double>::infinity()));
  s.recovered = static_cast<size_t>(std::count_if(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  auto finite = [](double x) { return std::isfinite(x) ? std::optional<double>(x) : std::nullopt; };
  auto rank = [&](double p) { return v[std::clamp<size_t>(static_cast<size_t>(std::ceil(p * n)), 1, n) - 1]; };
  s.min = finite(v.front());
  s.max = finite(v.back());
  s.median = finite(n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
  s.p95 = finite(rank(0.95));
  if (s.recovered < n)
    s.note = s.median ? fmt::format("{} of {} trials never recovered (counted as slower than any)", n - s.recovered, n)
                      : fmt::format("{} of {} trials never recovered: no median", n - s.recovered, n);
  // Order-statistic interval [x_(j), x_(n+1-j)] with the largest j whose coverage is still >= 95%;
  // coverage = 1 - 2 * P(Binomial(n, 1/2) < j). An infinite bound is no bound: nullopt.
  auto coverage = [&](size_t j) {
    double below = 0;
    for (size_t k = 0; k < j; ++k) below += std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) -
                                                     static_cast<double>(n) * std::log(2.0));
    return std::max(0.0, 1 - 2 * below);
  };
  size_t j = 1;
  while (j + 1 <= n / 2 && coverage(j + 1) >= 0.95) ++j;
  s.median_low = finite(v[j - 1]);
  s.median_high = finite(v[n - j]);
  s.median_coverage = coverage(j);
  return s;
}

EntryOutcome judge_entry(const std::string& experiment, const std::string& group,
                         const std::vector<const RunResult*>& trials, const std::optional<double>& pass_share) {
  EntryOutcome e{experiment, group, {}, Verdict::passed, ""};
  std::vector<std::optional<double>> ttr;
  size_t passed = 0;
  Verdict worst_other = Verdict::passed;
  for (const auto* r : trials) {
    // Only trials whose fault was applied measure recovery; the others (an error first) are not "never".
    if (r->metrics.end_of_impact_ms) ttr.push_back(r->metrics.time_to_recover_ms);
    if (r->verdict == Verdict::passed) ++passed;
    else worst_other = worst(worst_other, r->verdict);
  }
  e.stats = trial_stats(ttr, passed);
  e.stats.trials = trials.size();
  const double share = trials.empty() ? 0 : static_cast<double>(passed) / static_cast<double>(trials.size());
  const double needed = pass_share.value_or(1.0);
  if (worst_other == Verdict::error || worst_other == Verdict::aborted) {
    e.verdict = worst_other;
    e.reason = fmt::format("a trial ended in {}", to_string(worst_other));
  } else if (share + 1e-9 < needed) {
    e.verdict = worst_other == Verdict::passed ? Verdict::failed : worst_other;
    e.reason = fmt::format("{} of {} trials met the SLO ({:.0f}%); the suite needs {}", passed, trials.size(),
                           share * 100, pass_share ? fmt::format("{:.0f}%", needed * 100) : std::string("all"));
  } else {
    e.reason = fmt::format("{} of {} trials met the SLO", passed, trials.size());
  }
  if (!e.stats.note.empty()) e.reason += "; " + e.stats.note;
  return e;
}

namespace {
// An outcome that knows when (UTC) and on which host the suite started, for the report's header.
SuiteOutcome started_outcome() {
  SuiteOutcome out;
  out.started_unix_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) out.host = host;
  return out;
}
}  // namespace

SuiteOutcome run_suite(const Suite& suite, const RunOptions& base, const std::string& report_dir,
                       const std::function<void(const Experiment&, TrialRecord&)>& on_trial) {
  SuiteOutcome out = started_outcome();
  const auto start = std::chrono::steady_clock::now();
  std::mutex mutex;
  auto sleep_unless_interrupted = [](Millis d) {
    auto until = std::chrono::steady_clock::now() + to_clock_duration<std::chrono::steady_clock::duration>(d);
    while (std::chrono::steady_clock::now() < until && !interrupt_signal())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  bool stop = false;
  auto run_entry = [&](const SuiteGroup& group, const SuiteEntry& entry, bool live) {
    for (int t = 1; t <= entry.repeat && !interrupt_signal(); ++t) {
      {
        std::lock_guard lock(mutex);
        if (stop) return;
      }
      RunOptions options = base;
      options.live_progress = live;
      options.output_dir = fmt::format("{}/{}/trial-{}", report_dir, entry.experiment.name, t);
      std::error_code ec;
      fs::create_directories(options.output_dir, ec);
      TrialRecord record{entry.experiment.name, options.output_dir, t, group.name, run_experiment(entry.experiment, options)};
      on_trial(entry.experiment, record);
      std::lock_guard lock(mutex);
      if (suite.stop_on_failure && record.result.verdict != Verdict::passed) {
        stop = true;
        out.stopped_early = true;
      }
      out.trials.push_back(std::move(record));
    }
  };
  for (size_t g = 0; g < suite.groups.size() && !stop && !interrupt_signal(); ++g) {
    const auto& group = suite.groups[g];
    if (g > 0) sleep_unless_interrupted(suite.pause);
    if (group.parallel) {
      std::vector<std::thread> threads;
      for (const auto& entry : group.entries) threads.emplace_back([&, e = &entry] { run_entry(group, *e, false); });
      for (auto& t : threads) t.join();
    } else {
      for (size_t e = 0; e < group.entries.size() && !stop && !interrupt_signal(); ++e) {
        if (e > 0) sleep_unless_interrupted(suite.pause);
        run_entry(group, group.entries[e], base.live_progress);
      }
    }
  }
  for (const auto& group : suite.groups)
    for (const auto& entry : group.entries) {
      std::vector<const RunResult*> trials;
      for (const auto& t : out.trials)
        if (t.experiment == entry.experiment.name) trials.push_back(&t.result);
      if (trials.empty()) continue;
      out.entries.push_back(judge_entry(entry.experiment.name, group.name, trials, suite.pass_share));
      out.verdict = worst(out.verdict, out.entries.back().verdict);
    }
  if (interrupt_signal()) out.verdict = worst(out.verdict, Verdict::aborted);
  out.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace rebound
