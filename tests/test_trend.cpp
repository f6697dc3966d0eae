// The trend of time to recover over an experiment's runs (issue 13): the Theil-Sen slope and Mann-Kendall test
// on synthetic histories, `rebound history --trend`, the slo.max_trend gate and the trend line of the suite report.
#include <catch2/catch.hpp>
#include <cmath>
#include <regex>

#include "helpers.hpp"
#include "history/history.hpp"
#include "history/trend.hpp"
#include "reports/suite_charts.hpp"

using rebound::fit_trend;

namespace {

// A fixed, repeatable scatter in [-1, 1) with no drift of its own (a hash of i): the same "noise" on every run.
double scatter(size_t i) {
  const double h = std::sin(static_cast<double>(i) * 12.9898 + 78.233) * 43758.5453;
  return (h - std::floor(h)) * 2 - 1;
}

std::vector<double> rising(size_t n, double start, double per_run, double noise) {
  std::vector<double> v;
  for (size_t i = 0; i < n; ++i) v.push_back(start + per_run * static_cast<double>(i) + noise * scatter(i));
  return v;
}

// A journal as rebound records it, with only what the history reads.
nlohmann::json journal(const std::string& name, double recover_ms, double recover_within_ms) {
  return {{"experiment", {{"name", name}, {"slo", {{"recover_within_ms", recover_within_ms}}}}},
          {"started_at", "2026-11-29T01:00:00Z"},
          {"verdict", "passed"},
          {"status", "completed"},
          {"duration_ms", 5000},
          {"metrics", {{"time_to_recover_ms", recover_ms}}}};
}

void record_all(const std::string& db, const std::string& name, const std::vector<double>& values, double slo_ms) {
  auto history = rebound::History::open(db);
  REQUIRE(history);
  for (double v : values) REQUIRE((*history)->record(journal(name, v, slo_ms), ""));
}

}  // namespace

TEST_CASE("a steadily rising time to recover is a trend whose interval holds the true slope", "[unit][trend]") {
  auto fit = fit_trend(rising(12, 300, 40, 15));
  REQUIRE(fit);
  CHECK(fit->rising());
  CHECK(fit->p_value < 0.001);
  CHECK(fit->slope == Approx(40).margin(5));
  CHECK(fit->slope_low <= 40);
  CHECK(fit->slope_high >= 40);
  CHECK(fit->slope_low > 20);
  // The fitted newest run is about 300 + 11 x 40 = 740 ms: 2000 ms is (2000 - 740) / 40, about 32 runs ahead.
  REQUIRE(fit->runs_until(2000));
  CHECK(*fit->runs_until(2000) == Approx(31.5).margin(3));
  CHECK(std::regex_search(rebound::describe_trend(*fit, "time to recover", "recover_within", 2000),
                          std::regex("^time to recover rising by 4\\d\\.\\d ms per run \\(95% CI \\d+\\.\\d to \\d+\\.\\d ms "
                                     "per run, Mann-Kendall p = 0\\.000, 12 runs\\); at this rate it crosses "
                                     "recover_within \\(2000\\.0 ms\\) in about 3\\d runs$")));
}

TEST_CASE("a flat or merely noisy time to recover is no trend", "[unit][trend]") {
  auto flat = fit_trend(std::vector<double>(10, 250));
  REQUIRE(flat);
  CHECK_FALSE(flat->rising());
  CHECK_FALSE(flat->falling());
  CHECK(flat->slope == 0);
  CHECK_FALSE(flat->runs_until(2000));

  auto noisy = fit_trend(rising(15, 250, 0, 80));  // ±80 ms around 250 ms, no drift
  REQUIRE(noisy);
  CHECK_FALSE(noisy->rising());
  CHECK(noisy->p_value > 0.05);
  CHECK(noisy->slope_low < 0);
  CHECK(noisy->slope_high > 0);
  CHECK(rebound::describe_trend(*noisy, "time to recover", "recover_within", 2000).rfind("time to recover: no trend (", 0) ==
        0);
}

TEST_CASE("one slow run among flat runs does not make a trend", "[unit][trend]") {
  std::vector<double> values(12, 200);
  for (size_t i = 0; i < values.size(); ++i) values[i] += 5 * scatter(i);
  values[11] = 5000;  // the newest run was very slow: a least-squares line would rise steeply
  auto fit = fit_trend(values);
  REQUIRE(fit);
  CHECK_FALSE(fit->rising());
  CHECK(std::fabs(fit->slope) < 2);
}

TEST_CASE("a falling time to recover is a falling trend and never crosses the SLO", "[unit][trend]") {
  auto fit = fit_trend(rising(10, 900, -30, 10));
  REQUIRE(fit);
  CHECK(fit->falling());
  CHECK_FALSE(fit->runs_until(1000));
  CHECK(rebound::describe_trend(*fit, "time to recover", "recover_within", 1000).find("falling by") != std::string::npos);
}

TEST_CASE("a trend needs five runs", "[unit][trend]") {
  CHECK_FALSE(fit_trend({100, 200, 300, 400}));
  auto five = fit_trend({100, 200, 300, 400, 500});
  REQUIRE(five);
  CHECK(five->rising());  // every run slower than the last: p = 0.027
  CHECK(five->p_value == Approx(0.027).margin(0.002));
}

TEST_CASE("rebound history --trend states the trend and when it crosses recover_within", "[integration][trend]") {
  test::TempDir dir;
  const std::string db = dir.path() + "/history.sqlite";
  record_all(db, "drifting", rising(10, 400, 50, 10), 2000);
  record_all(db, "steady", rising(10, 400, 0, 30), 2000);
  auto out = test::run_rebound({"history", "--history", db, "--trend"});
  INFO(out.out << out.err);
  CHECK(out.exit_code == 0);
  CHECK(std::regex_search(out.out, std::regex("drifting: time to recover over 10 runs\\n(.*\\n){10}.*\\n  trend: time to "
                                              "recover rising by 5\\d\\.\\d ms per run .*; at this rate it crosses "
                                              "recover_within \\(2000\\.0 ms\\) in about \\d+ runs\\n")));
  CHECK(std::regex_search(out.out, std::regex("steady: time to recover over 10 runs\\n(.*\\n){11}  trend: time to "
                                              "recover: no trend \\(")));
}

TEST_CASE("the suite report's trend chart draws the fitted line and where it crosses the SLO", "[unit][trend][html]") {
  std::vector<rebound::HistoryRow> rows;
  for (double v : rising(10, 400, 120, 10)) {
    rebound::HistoryRow r;
    r.id = static_cast<int64_t>(rows.size()) + 1;
    r.verdict = "passed";
    r.time_to_recover_ms = v;
    rows.push_back(r);
  }
  auto svg = rebound::suite_trend_svg(rows, 2000);
  CHECK(svg.find("class=\"trend-fit\"") != std::string::npos);
  CHECK(svg.find("class=\"trend-projection\"") != std::string::npos);
  CHECK(svg.find("crosses the SLO in about") != std::string::npos);  // 400 + 9 x 120 = 1480: 5 runs to 2000 ms
  CHECK(rebound::suite_trend_text(rows, 2000).find("rising by") != std::string::npos);

  for (auto& r : rows) r.time_to_recover_ms = 400 + 20 * scatter(static_cast<size_t>(r.id));
  auto flat = rebound::suite_trend_svg(rows, 2000);
  CHECK(flat.find("class=\"trend-fit\"") != std::string::npos);
  CHECK(flat.find("trend-projection") == std::string::npos);  // no trend: nothing projected
  CHECK(flat.find("crosses the SLO") == std::string::npos);
  CHECK(rebound::suite_trend_svg({rows.begin(), rows.begin() + 3}, 2000).find("trend-fit") == std::string::npos);
}

TEST_CASE("message: max_trend out of range and max_trend without an SLO to cross", "[unit][validation][messages][trend]") {
  const std::string head = "name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n";
  CHECK(test::only_error(head + "[slo]\nrecover_within = \"2s\"\nmax_trend = 0\n") ==
        "exp.toml:9:13: error: slo.max_trend: use a number of runs from 1 to 1000, such as 10");
  CHECK(test::only_error(head + "[slo]\nmax_trend = 10\n") ==
        "exp.toml:8:13: error: slo.max_trend: max_trend projects the trend onto recover_within or heal_within: declare "
        "one of them");
}

TEST_CASE("slo.max_trend fails a passing run whose recovery trend crosses recover_within soon", "[integration][trend]") {
  test::TempDir dir;
  // The supervised demo (recover_within 2 s, a 150 ms restart delay) on its own port, with max_trend.
  auto scenario = [&](int within_runs) {
    std::string text = test::read_text(test::source("scenarios/demo/kill-supervised.toml"));
    text = std::regex_replace(text, std::regex("18181"), "18198");
    text = std::regex_replace(text, std::regex("recover_within = \"2s\""),
                              "recover_within = \"2s\"\nmax_trend = " + std::to_string(within_runs));
    return dir.write("trend-" + std::to_string(within_runs) + ".toml", text);
  };
  // Earlier runs recovered in 10, 30, ... 150 ms: about 20 ms slower each run. This run (at least 150 ms) goes on
  // rising; at 20 ms per run 2 s is about 90 runs ahead.
  const std::string db = dir.path() + "/history.sqlite";
  record_all(db, "demo-kill-supervised", rising(8, 10, 20, 0), 2000);
  auto soon = test::run_rebound({"run", scenario(200), "--report-dir", dir.path() + "/r1", "--state-dir",
                                 dir.path() + "/s", "--history", db});
  INFO(soon.out << soon.err);
  CHECK(soon.exit_code == 1);
  auto j = test::read_json(dir.path() + "/r1/demo-kill-supervised/journal.json");
  CHECK(j["verdict"] == "failed");
  bool judged = false;
  for (const auto& c : j["slo"])
    if (c["criterion"] == "trend.time_to_recover") {
      judged = true;
      CHECK(c["passed"] == false);
      CHECK(c["detail"].get<std::string>().find("time to recover rising by") != std::string::npos);
    }
  CHECK(judged);
  CHECK(test::read_text(dir.path() + "/r1/junit.xml").find("name=\"trend.time_to_recover\"") != std::string::npos);

  // The same trend against a gate of 20 runs: crossing about 90 runs ahead is beyond it.
  auto db2 = dir.path() + "/history2.sqlite";
  record_all(db2, "demo-kill-supervised", rising(8, 10, 20, 0), 2000);
  auto later = test::run_rebound({"run", scenario(20), "--report-dir", dir.path() + "/r2", "--state-dir",
                                  dir.path() + "/s", "--history", db2});
  INFO(later.out << later.err);
  CHECK(later.exit_code == 0);
}
