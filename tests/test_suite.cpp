// Game-day suites: statistics over trials, pass_if, serial and parallel groups, exit codes.
#include <catch2/catch.hpp>
#include <filesystem>

#include "gameday/suite.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using namespace rebound;

TEST_CASE("trial statistics: min, median, p95, max and an order-statistic interval for the median", "[unit][suite]") {
  std::vector<std::optional<double>> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(i * 100.0);
  auto s = trial_stats(ten, 10);
  CHECK(*s.min == 100);
  CHECK(*s.median == 550);
  CHECK(*s.p95 == 1000);
  CHECK(*s.max == 1000);
  // n = 10: [x(2), x(9)] covers 1 - 2 * (1 + 10) / 1024 = 97.85%; [x(3), x(8)] would cover only 89%.
  CHECK(*s.median_low == 200);
  CHECK(*s.median_high == 900);
  CHECK(s.median_coverage == Approx(0.978515625));

  // Five trials cannot reach 95%: the widest interval is reported with its real coverage.
  auto five = trial_stats({1.0, 2.0, 3.0, 4.0, 5.0}, 5);
  CHECK(*five.median_low == 1);
  CHECK(*five.median_high == 5);
  CHECK(five.median_coverage == Approx(0.9375));

  CHECK(trial_stats({}, 0).median.has_value() == false);
}

TEST_CASE("trial statistics: a trial that never recovered is slower than any, not left out", "[unit][suite]") {
  // Issue 17 item 13. Two of five never recovered: the median is the third fastest, not the middle of the
  // three that recovered, and the interval for it is unbounded above.
  auto two = trial_stats({100.0, std::nullopt, 300.0, std::nullopt, 200.0}, 3);
  CHECK(two.trials == 5);
  CHECK(two.recovered == 3);
  CHECK(*two.median == 300);
  CHECK(*two.min == 100);
  CHECK_FALSE(two.max);
  CHECK_FALSE(two.p95);
  CHECK(*two.median_low == 100);
  CHECK_FALSE(two.median_high);
  CHECK(two.note == "2 of 5 trials never recovered (counted as slower than any)");

  // More than half never recovered: no median, and the note says why.
  auto most = trial_stats({std::nullopt, 10.0, std::nullopt}, 1);
  CHECK(most.recovered == 1);
  CHECK_FALSE(most.median);
  CHECK(most.note == "2 of 3 trials never recovered: no median");

  // The entry's reason carries the note, so the suite's reports and its console summary say it.
  // A trial that ended before its fault was applied measured nothing, and is not counted as never recovered.
  RunResult recovered, never, unmeasured;
  recovered.verdict = Verdict::passed;
  recovered.metrics.end_of_impact_ms = 1000;
  recovered.metrics.time_to_recover_ms = 10;
  never.verdict = Verdict::failed;
  never.metrics.end_of_impact_ms = 1000;
  unmeasured.verdict = Verdict::inconclusive;
  auto e = judge_entry("x", "g", {&recovered, &never, &never, &unmeasured}, 0.25);
  CHECK(e.stats.trials == 4);
  CHECK(e.stats.measured == 3);
  CHECK_FALSE(e.stats.median);
  CHECK(e.reason == "1 of 4 trials met the SLO; 2 of 3 trials never recovered: no median");
}

TEST_CASE("an entry passes when the share of passed trials meets pass_if", "[unit][suite]") {
  RunResult ok, bad, broken;
  ok.verdict = Verdict::passed;
  bad.verdict = Verdict::failed;
  broken.verdict = Verdict::error;
  std::vector<const RunResult*> nineteen_of_twenty(19, &ok);
  nineteen_of_twenty.push_back(&bad);
  CHECK(judge_entry("x", "g", nineteen_of_twenty, 0.95).verdict == Verdict::passed);
  CHECK(judge_entry("x", "g", nineteen_of_twenty, std::nullopt).verdict == Verdict::failed);
  CHECK(judge_entry("x", "g", nineteen_of_twenty, std::nullopt).reason ==
        "19 of 20 trials met the SLO (95%); the suite needs all");
  CHECK(judge_entry("x", "g", {&ok, &broken}, 0.5).verdict == Verdict::error);
}

TEST_CASE("the demo game-day runs serial then parallel groups with repeated trials", "[integration][suite]") {
  test::TempDir dir;
  auto r = test::run_rebound({"gameday", test::source("scenarios/gameday/demo-gameday.toml"), "--report-dir",
                              dir.path(), "--state-dir", dir.path() + "/s", "--history", dir.path() + "/h.sqlite"},
                             120'000);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto span = [&](const std::string& experiment, int trial) {
    auto j = test::read_json(dir.path() + "/" + experiment + "/trial-" + std::to_string(trial) + "/journal.json");
    CHECK(j["verdict"] == "passed");
    double start = j["monotonic_epoch_ns"].get<double>() / 1e6;
    return std::pair{start, start + j["duration_ms"].get<double>()};
  };
  auto freeze1 = span("demo-freeze-supervised", 1), freeze2 = span("demo-freeze-supervised", 2);
  CHECK(freeze1.second <= freeze2.first);  // serial: one trial after the other
  double parallel_start = 1e300;
  for (const char* e : {"demo-kill-supervised", "demo-term-supervised"}) {
    for (int t = 1; t <= 3; ++t) {
      auto s = span(e, t);
      parallel_start = std::min(parallel_start, s.first);
      if (t > 1) CHECK(span(e, t - 1).second <= s.first);  // an entry's own trials are serial
    }
  }
  CHECK(freeze2.second <= parallel_start);  // the parallel group starts after the serial one
  auto kill1 = span("demo-kill-supervised", 1), term1 = span("demo-term-supervised", 1);
  CHECK(kill1.first < term1.second);  // parallel: the two entries' first trials overlap
  CHECK(term1.first < kill1.second);
  auto junit = test::read_text(dir.path() + "/junit.xml");
  size_t suites = 0;
  for (size_t at = junit.find("<testsuite "); at != std::string::npos; at = junit.find("<testsuite ", at + 1)) ++suites;
  CHECK(suites == 8);
  auto summary = test::read_text(dir.path() + "/summary.md");
  CHECK(summary.find("| demo-kill-supervised | kills | passed | 3/3 | 3 |") != std::string::npos);
  auto html = test::read_text(dir.path() + "/report.html");
  CHECK(html.find("id=\"distribution\"") != std::string::npos);
  CHECK(html.find("id=\"trend\"") != std::string::npos);
}

TEST_CASE("a suite whose trials miss pass_if fails with the worst verdict's exit code", "[integration][suite]") {
  test::TempDir dir;
  auto suite = dir.write("s.toml", "name = \"s\"\npass_if = 0.5\n[[groups]]\n[[groups.experiments]]\nfile = \"" +
                                       test::source("scenarios/demo/kill-unsupervised.toml") + "\"\nrepeat = 2\n");
  auto r = test::run_rebound({"gameday", suite, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
                              "--no-history"},
                             120'000);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("failed demo-kill-unsupervised       median - over 2 trials: 0 of 2 trials met the SLO (0%); the "
                   "suite needs 50%") != std::string::npos);
}

TEST_CASE("an invalid suite is refused before anything runs", "[integration][suite]") {
  test::TempDir dir;
  auto suite = dir.write("s.toml", "name = \"s\"\npass_if = 2\n[[groups]]\nmode = \"sideways\"\n[[groups.experiments]]\n"
                                   "file = \"missing.toml\"\n");
  auto r = test::run_rebound({"gameday", suite, "--report-dir", dir.path() + "/r", "--no-history"});
  CHECK(r.exit_code == 4);
  CHECK(r.err.find(suite + ":2:11: error: pass_if: expected \"all\" or a share of trials from 0 to 1 such as 0.95, got "
                           "integer 2") != std::string::npos);
  CHECK(r.err.find(suite + ":4:8: error: groups[0].mode: 'sideways': use \"serial\" or \"parallel\"") != std::string::npos);
  CHECK(r.err.find(dir.path() + "/missing.toml:0:0: error: file: cannot read the file: No such file or directory") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() + "/r"));
}

TEST_CASE("a suite with a misspelt group key and a missing experiment reports both", "[integration][suite]") {
  // The group's unknown key is reported after the experiment failed to load: the suite's diagnostics must
  // survive the experiment's being collected (this once read freed memory).
  test::TempDir dir;
  auto suite = dir.write("s.toml", "name = \"s\"\n[[groups]]\nname = \"g\"\nmod = \"serial\"\n[[groups.experiments]]\n"
                                   "file = \"missing.toml\"\n");
  for (auto args : {std::vector<std::string>{"validate", suite}, std::vector<std::string>{"gameday", suite, "--no-history"}}) {
    auto r = test::run_rebound(args);
    const std::string& command = args[0];
    INFO(command << ": " << r.err);
    CHECK(r.exit_code == 4);
    CHECK(r.err.find(suite + ":4:1: error: groups[0].mod: unknown key; did you mean 'mode'?") != std::string::npos);
    CHECK(r.err.find(dir.path() + "/missing.toml:0:0: error: file: cannot read the file") != std::string::npos);
    CHECK(r.err.find("internal error") == std::string::npos);
  }
}

TEST_CASE("validate knows a game-day suite from an experiment", "[integration][suite]") {
  auto r = test::run_rebound({"validate", test::source("scenarios/gameday/demo-gameday.toml"),
                              test::source("scenarios/demo/kill-supervised.toml")});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("demo-gameday.toml: valid game-day suite (2 groups, 3 experiments, scheduled)") != std::string::npos);
  CHECK(r.out.find("kill-supervised.toml: valid (2 probes, 1 step)") != std::string::npos);
}
