// Issue 11: the game-day report says its numbers. The trend has a y axis, a value on every bar and the SLO
// line; the per-trial chart has the SLO deadline; the header says when and where the suite ran; the column of
// the median's interval says what it is.
#include <catch2/catch.hpp>
#include <unistd.h>

#include "gameday/suite.hpp"
#include "helpers.hpp"
#include "reports/suite_report.hpp"

using namespace rebound;

namespace {

Suite demo_suite() {
  auto loaded = load_suite(test::source("scenarios/gameday/demo-gameday.toml"), LoadOptions{"/"});
  REQUIRE(loaded.ok());
  return *loaded.suite;
}

TrialRecord trial(const std::string& experiment, int n, double ttr) {
  TrialRecord t{experiment, "/tmp/x", n, "warm-up", {}};
  t.result.verdict = Verdict::passed;
  t.result.metrics.end_of_impact_ms = 1000;
  t.result.metrics.time_to_recover_ms = ttr;
  return t;
}

// demo-freeze-supervised (recover_within 500 ms) over three trials, started 2026-03-01 12:00:00 UTC.
SuiteOutcome outcome() {
  SuiteOutcome o;
  o.trials = {trial("demo-freeze-supervised", 1, 120), trial("demo-freeze-supervised", 2, 180),
              trial("demo-freeze-supervised", 3, 150)};
  std::vector<const RunResult*> results;
  for (const auto& t : o.trials) results.push_back(&t.result);
  o.entries.push_back(judge_entry("demo-freeze-supervised", "warm-up", results, std::nullopt));
  o.started_unix_ms = 1772366400000;  // 2026-03-01T12:00:00Z
  o.duration_ms = 185'000;
  o.host = "gameday-host-7";
  return o;
}

HistoryRow row(int64_t id, std::optional<double> ttr, const std::string& verdict) {
  HistoryRow r;
  r.id = id;
  r.experiment = "demo-freeze-supervised";
  r.started_at = "2026-03-01T12:00:00.000Z";
  r.verdict = verdict;
  r.time_to_recover_ms = ttr;
  return r;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the game-day trend has a y axis in ms, each bar's value and the recover_within line",
          "[unit][reports][suite]") {
  std::map<std::string, std::vector<HistoryRow>> trend;
  trend["demo-freeze-supervised"] = {row(1, 412.4, "passed"), row(2, 733.0, "failed"), row(3, std::nullopt, "failed")};
  auto html = make_suite_html(demo_suite(), outcome(), trend);
  const auto at = html.find("id=\"trend\"");
  REQUIRE(at != std::string::npos);
  const std::string part = html.substr(at);
  CHECK(part.find(">time to recover (ms)</text>") != std::string::npos);  // the axis says its unit
  // Ticks of 200 ms up to 800 ms (the largest value, 733 ms, with a margin), each labelled with its unit.
  for (const char* tick : {">0 ms</text>", ">200 ms</text>", ">400 ms</text>", ">600 ms</text>", ">800 ms</text>"})
    CHECK(part.find(tick) != std::string::npos);
  // Every bar carries its value; the run that never recovered says so.
  CHECK(count(part, "class=\"bar\"") == 3);
  CHECK(part.find("class=\"bar-value\"") != std::string::npos);
  CHECK(part.find(">412</text>") != std::string::npos);
  CHECK(part.find(">733</text>") != std::string::npos);
  CHECK(part.find(">none</text>") != std::string::npos);
  // The SLO: a line at 500 ms, labelled with its name and value.
  CHECK(count(part, "class=\"slo-line\"") == 1);
  CHECK(part.find(">SLO: recover_within</text>") != std::string::npos);
  CHECK(part.find(">500 ms</text>") != std::string::npos);
}

TEST_CASE("the game-day per-trial chart draws each experiment's recover_within deadline", "[unit][reports][suite]") {
  auto html = make_suite_html(demo_suite(), outcome(), {});
  const auto at = html.find("id=\"distribution\"");
  REQUIRE(at != std::string::npos);
  const std::string part = html.substr(at, html.find("</svg>", at) - at);
  CHECK(count(part, "class=\"slo-deadline\"") == 1);
  CHECK(part.find(">recover_within 500 ms</text>") != std::string::npos);
  CHECK(count(part, "class=\"trial\"") == 3);
}

TEST_CASE("the game-day header says when, for how long and on which host the suite ran", "[unit][reports][suite]") {
  auto o = outcome();
  const std::string when = suite_when_and_where(o);
  // Local time with its zone, whatever the zone of the machine running the test.
  std::time_t secs = 1772366400;
  std::tm local{};
  localtime_r(&secs, &local);
  char expected[80];
  const bool utc = local.tm_gmtoff == 0 && std::string(local.tm_zone) == "UTC";  // "UTC", else "CET (UTC+0100)"
  std::strftime(expected, sizeof expected, utc ? "%Y-%m-%d %H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S %Z (UTC%z)", &local);
  CHECK(when == std::string("ran on gameday-host-7 · started ") + expected + " · took 3 min 5 s");
  CHECK(make_suite_markdown(demo_suite(), o).find("- " + when + "\n") != std::string::npos);
  CHECK(make_suite_html(demo_suite(), o, {}).find("<p id=\"when\" class=\"meta\">" + when + "</p>") !=
        std::string::npos);
}

TEST_CASE("the game-day interval column says what it holds and how sure it is", "[unit][reports][suite]") {
  auto o = outcome();  // three trials: 120, 150, 180 ms; too few for 95% (needs 6)
  auto md = make_suite_markdown(demo_suite(), o);
  CHECK(md.find("| true median lies in (confidence) |") != std::string::npos);
  CHECK(md.find("| 120.0 to 180.0 ms, only 75% confidence (95% needs 6 trials) |") != std::string::npos);
  CHECK(md.find("\"true median lies in\": the range that holds the median time to recover") != std::string::npos);
  // Ten trials reach 95%.
  SuiteOutcome ten;
  for (int i = 1; i <= 10; ++i) ten.trials.push_back(trial("demo-freeze-supervised", i, 100.0 * i));
  std::vector<const RunResult*> results;
  for (const auto& t : ten.trials) results.push_back(&t.result);
  ten.entries.push_back(judge_entry("demo-freeze-supervised", "warm-up", results, std::nullopt));
  CHECK(make_suite_markdown(demo_suite(), ten).find("| 200.0 to 900.0 ms, 98% confidence |") != std::string::npos);
  CHECK(make_suite_html(demo_suite(), ten, {}).find("<th>true median lies in (confidence)</th>") != std::string::npos);
}

TEST_CASE("a game-day run records its host and wall-clock start", "[integration][suite]") {
  test::TempDir dir;
  auto r = test::run_rebound({"gameday", test::source("scenarios/gameday/demo-gameday.toml"), "--report-dir",
                              dir.path(), "--state-dir", dir.path() + "/s", "--history", dir.path() + "/h.sqlite"},
                             120'000);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  auto summary = test::read_text(dir.path() + "/summary.md");
  CHECK(summary.find(std::string("- ran on ") + host + " · started 20") != std::string::npos);
  auto html = test::read_text(dir.path() + "/report.html");
  CHECK(html.find("class=\"slo-line\"") != std::string::npos);
  CHECK(html.find("class=\"slo-deadline\"") != std::string::npos);
}
