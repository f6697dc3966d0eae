// The HTML report as a reader sees it: rendered by headless Chromium, with user text shown as text.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "system/subprocess.hpp"
#include "helpers.hpp"
#include "gameday/suite.hpp"
#include "reports/html.hpp"
#include "reports/suite_report.hpp"

namespace fs = std::filesystem;

namespace {

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(p)) return p;
  return "";
}

// Chromium's flags for a closed network (no background fetches) and a fresh profile.
rebound::CommandSpec headless(const std::string& profile, std::vector<std::string> extra) {
  rebound::CommandSpec spec;
  spec.argv = {chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + profile, "--hide-scrollbars"};
  spec.argv.insert(spec.argv.end(), extra.begin(), extra.end());
  spec.timeout = rebound::Millis(60'000);
  return spec;
}

}  // namespace

TEST_CASE("the HTML report escapes everything from files and probes", "[unit][reports][html]") {
  nlohmann::json j = {{"schema_version", 1},
                      {"verdict", "failed"},
                      {"exit_code", 1},
                      {"status", "completed"},
                      {"duration_ms", 1000},
                      {"reasons", {"probe said <script>alert(1)</script>"}},
                      {"experiment", {{"name", "x"}, {"title", "<img src=x onerror=alert(2)>"}, {"file", "a&b.toml"}}},
                      {"slo", nlohmann::json::array()},
                      {"phases", nlohmann::json::array()},
                      {"steps", nlohmann::json::array()},
                      {"guard_events", nlohmann::json::array()},
                      {"metrics", {{"phases", nlohmann::json::object()}}},
                      {"probes", {{{"name", "p\"><b>"}, {"samples", {{{"t_ms", 1}, {"ok", false}, {"reason", "<script>x"}}}}}}}};
  auto html = rebound::make_html(j);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("probe said &lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
  CHECK(html.find("a&amp;b.toml") != std::string::npos);
  CHECK(html.find("data-probe=\"p&quot;&gt;&lt;b&gt;\"") != std::string::npos);
}

TEST_CASE("the HTML report renders in headless Chromium with its verdict and timeline", "[integration][html]") {
  if (chromium().empty()) {
    if (std::getenv("CI")) FAIL("Chromium is not installed: CI must run this test (scripts/install-deps.sh installs it)");
    WARN("skipped: Chromium is not installed");
    return;
  }
  test::TempDir dir;
  // A probe whose failure reason carries markup: the baseline fails and the reason lands in the report.
  auto file = dir.write("x.toml", R"(name = "markup"
title = "Report <b>escaping</b>"
[[probes]]
name = "nasty"
type = "command"
argv = ["/bin/sh", "-c", "echo '<script>document.title=\"pwned\"</script>' >&2; exit 1"]
interval = "100ms"
[steady_state]
window = "300ms"
[[guards]]
name = "stop-on-errors"
probe = "nasty"
)");
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s"});
  REQUIRE(r.exit_code == 2);
  const std::string report = dir.path() + "/r/markup/report.html";
  REQUIRE(fs::exists(report));

  auto dom = rebound::run_command(headless(dir.path() + "/p1", {"--dump-dom", "file://" + report}));
  REQUIRE(dom);
  INFO(dom->err);
  CHECK(dom->out.find("id=\"verdict\"") != std::string::npos);
  CHECK(dom->out.find("id=\"timeline\"") != std::string::npos);
  CHECK(dom->out.find("class=\"probe-lane\"") != std::string::npos);
  CHECK(dom->out.find(">inconclusive<") != std::string::npos);
  // The probe's output is text on the page, never a script element.
  CHECK(dom->out.find("<script") == std::string::npos);
  CHECK(dom->out.find("&lt;script&gt;document.title") != std::string::npos);
  CHECK(dom->out.find("<title>Report &lt;b&gt;escaping&lt;/b&gt;: inconclusive</title>") != std::string::npos);
  // Issue 11: the declared guards, whether they tripped, and wall-clock times on the timeline's axis.
  CHECK(dom->out.find("<table id=\"guards\">") != std::string::npos);
  CHECK(dom->out.find("<code>stop-on-errors</code>") != std::string::npos);
  CHECK(dom->out.find("No guard tripped.") != std::string::npos);
  const auto started = test::read_json(dir.path() + "/r/markup/journal.json")["started_at"].get<std::string>();
  CHECK(dom->out.find(">wall clock (UTC)</text>") != std::string::npos);
  CHECK(dom->out.find("class=\"axis-clock\" text-anchor=\"middle\">" + started.substr(11, 12) + "</text>") !=
        std::string::npos);

  auto shot = rebound::run_command(headless(dir.path() + "/p2", {"--window-size=1200,1400",
                                                                  "--screenshot=" + dir.path() + "/shot.png",
                                                                  "file://" + report}));
  REQUIRE(shot);
  CHECK(fs::file_size(dir.path() + "/shot.png") > 20'000);  // a rendered page, not a blank one
}

TEST_CASE("rebound report re-renders HTML from journals", "[integration][html]") {
  test::TempDir dir;
  auto run = test::run_rebound({"run", test::source("scenarios/demo/kill-supervised.toml"), "--report-dir",
                                dir.path() + "/r", "--state-dir", dir.path() + "/s", "--metrics-file",
                                dir.path() + "/rebound.prom"});
  REQUIRE(run.exit_code == 0);
  const std::string journal = dir.path() + "/r/demo-kill-supervised/journal.json";
  auto one = test::run_rebound({"report", journal, "--html", dir.path() + "/again.html"});
  CHECK(one.exit_code == 0);
  CHECK(test::read_text(dir.path() + "/again.html") == test::read_text(dir.path() + "/r/demo-kill-supervised/report.html"));
  auto bad = test::run_rebound({"report", dir.path() + "/r/junit.xml", "--html", dir.path() + "/x.html"});
  CHECK(bad.exit_code == 4);
  CHECK(bad.err.find("is not a rebound journal") != std::string::npos);
  // The metrics file is in the Prometheus text format.
  auto prom = test::read_text(dir.path() + "/rebound.prom");
  CHECK(prom.find("# TYPE rebound_time_to_recover_seconds gauge\nrebound_time_to_recover_seconds{experiment=\"demo-kill-"
                  "supervised\"} 0.") != std::string::npos);
  CHECK(prom.find("rebound_experiment_verdict{experiment=\"demo-kill-supervised\",verdict=\"passed\"} 1") !=
        std::string::npos);
  CHECK(prom.find("rebound_slo_criterion_passed{experiment=\"demo-kill-supervised\",criterion=\"recover_within\"} 1") !=
        std::string::npos);
}

TEST_CASE("rebound report of three runs of one experiment writes three files, named by run", "[unit][html]") {
  test::TempDir dir;
  std::vector<std::string> args{"report"};
  for (const char* when : {"2026-01-01T09:00:00.000Z", "2026-01-02T09:00:00.000Z", "2026-01-02T09:00:00.000Z"}) {
    auto j = test::read_json(test::source("tests/fixtures/journal-v1-freeze.json"));
    j["experiment"]["name"] = "nightly-kill";
    j["started_at"] = when;
    args.push_back(dir.write(std::string("j") + std::to_string(args.size()) + ".json", j.dump()));
  }
  args.insert(args.end(), {"--html", dir.path() + "/out"});
  auto r = test::run_rebound(args);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(dir.path() + "/out/nightly-kill-20260101T090000.000Z.html"));
  CHECK(fs::exists(dir.path() + "/out/nightly-kill-20260102T090000.000Z.html"));
  CHECK(fs::exists(dir.path() + "/out/nightly-kill-20260102T090000.000Z-2.html"));
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path() + "/out")) ++files;
  CHECK(files == 3);
}

TEST_CASE("the game-day report renders its trend axis, bar values and SLO lines in headless Chromium",
          "[integration][html][suite]") {
  if (chromium().empty()) {
    if (std::getenv("CI")) FAIL("Chromium is not installed: CI must run this test (scripts/install-deps.sh installs it)");
    WARN("skipped: Chromium is not installed");
    return;
  }
  test::TempDir dir;
  auto loaded = rebound::load_suite(test::source("scenarios/gameday/demo-gameday.toml"), rebound::LoadOptions{"/"});
  REQUIRE(loaded.ok());
  rebound::SuiteOutcome o;
  for (int i = 1; i <= 3; ++i) {
    rebound::TrialRecord t{"demo-freeze-supervised", "x", i, "warm-up", {}};
    t.result.verdict = rebound::Verdict::passed;
    t.result.metrics.end_of_impact_ms = 1000;
    t.result.metrics.time_to_recover_ms = 100.0 * i;
    o.trials.push_back(t);
  }
  std::vector<const rebound::RunResult*> results;
  for (const auto& t : o.trials) results.push_back(&t.result);
  o.entries.push_back(rebound::judge_entry("demo-freeze-supervised", "warm-up", results, std::nullopt));
  o.started_unix_ms = 1772366400000;
  o.duration_ms = 60'000;
  o.host = "render-host";
  std::map<std::string, std::vector<rebound::HistoryRow>> trend;
  for (int i = 1; i <= 4; ++i) {
    rebound::HistoryRow r;
    r.id = i;
    r.verdict = "passed";
    r.time_to_recover_ms = 90.0 * i + 7;
    trend["demo-freeze-supervised"].push_back(r);
  }
  const std::string report = dir.write("report.html", rebound::make_suite_html(*loaded.suite, o, trend));
  auto dom = rebound::run_command(headless(dir.path() + "/p1", {"--dump-dom", "file://" + report}));
  REQUIRE(dom);
  INFO(dom->err);
  CHECK(dom->out.find("ran on render-host · started ") != std::string::npos);
  CHECK(dom->out.find(">time to recover (ms)</text>") != std::string::npos);  // the y axis and its unit
  for (const char* value : {">97</text>", ">187</text>", ">277</text>", ">367</text>"})
    CHECK(dom->out.find(value) != std::string::npos);  // a value on every bar
  CHECK(dom->out.find("class=\"slo-line\"") != std::string::npos);
  CHECK(dom->out.find(">SLO: recover_within</text>") != std::string::npos);
  CHECK(dom->out.find("class=\"slo-deadline\"") != std::string::npos);
  CHECK(dom->out.find(">recover_within 500 ms</text>") != std::string::npos);
  auto shot = rebound::run_command(headless(dir.path() + "/p2", {"--window-size=1200,1400",
                                                                  "--screenshot=" + dir.path() + "/shot.png",
                                                                  "file://" + report}));
  REQUIRE(shot);
  CHECK(fs::file_size(dir.path() + "/shot.png") > 20'000);
}
