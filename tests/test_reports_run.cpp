// Issue 11: what the reports of one run say. Guards as declared and whether they tripped, wall-clock times,
// empty phases explained, process.stop's "what it did", "requests" for a load probe's phases, one way of
// writing a limit, "not measured" after an interrupt, no "why:" line repeating a FAIL line, and the history's
// impact columns.
#include <catch2/catch.hpp>
#include <csignal>

#include "experiments/loader.hpp"
#include "experiments/slo.hpp"
#include "helpers.hpp"
#include "history/history.hpp"
#include "system/targets.hpp"
#include "reports/html.hpp"
#include "reports/journal.hpp"
#include "reports/junit.hpp"
#include "reports/markdown.hpp"

using namespace rebound;

namespace {

Experiment experiment(const std::string& extra = "") {
  auto loaded = load_experiment_text("name = \"x\"\n[[probes]]\nname = \"web\"\ntype = \"tcp\"\nhost = \"h\"\nport = 1\n"
                                     "interval = \"500ms\"\n[slo]\nrecover_within = \"2s\"\n" + extra,
                                     "x.toml", LoadOptions{"/"});
  INFO(loaded.diagnostics.format_all());
  REQUIRE(loaded.experiment);
  return *loaded.experiment;
}

const char* kGuard = "[[guards]]\nname = \"too-many-errors\"\nprobe = \"web\"\nmax_failure_ratio = 0.5\nwindow = \"2s\"\n"
                     "min_samples = 4\n";

RunResult passed_run() {
  RunResult r;
  r.verdict = Verdict::passed;
  r.started_at = "2026-01-01T23:59:59.250Z";
  r.duration_ms = 8000;
  return r;
}

StepRecord stop_step() {
  StepRecord s;
  s.name = "freeze";
  s.type = "process.stop";
  s.kind = StepKind::lasting_fault;
  s.target = "service";
  s.applied_ms = 1000;
  s.reverted_ms = 6000;
  s.ended_ms = 6001;
  s.status = StepStatus::done;
  s.effect = StepEffect{true, "stopped 2 of 2 processes (state T)"};
  s.detail = {{"stopped",
               {{{"pid", 4242}, {"comm", "demo-service"}, {"state", "T"}},
                {{"pid", 4243}, {"comm", "demo-service"}, {"state", "T"}}}},
              {"resumed", {4242, 4243}}};
  return s;
}

std::string html_of(const Experiment& ex, const RunResult& r) { return make_html(make_journal(ex, r)); }

}  // namespace

TEST_CASE("summary.md and report.html list the declared guards and say that none tripped", "[unit][reports]") {
  auto ex = experiment(kGuard);
  auto r = passed_run();
  auto md = make_markdown(ex, r);
  CHECK(md.find("## Guards\n\n| guard | probe | trips when | tripped |\n|---|---|---|---|\n| too-many-errors | web | "
                "more than 50% of its samples fail within 2.0 s (at least 4 samples) | no |\n\nNo guard tripped.\n") !=
        std::string::npos);
  auto html = html_of(ex, r);
  CHECK(html.find("<table id=\"guards\">") != std::string::npos);
  CHECK(html.find("<td>more than 50% of its samples fail within 2.0 s (at least 4 samples)</td><td>no</td>") !=
        std::string::npos);
  CHECK(html.find("<p id=\"no-guard-tripped\">No guard tripped.</p>") != std::string::npos);

  // A trip: the guard's row says when, and the explicit "none tripped" is gone.
  r.verdict = Verdict::aborted;
  r.guard_events.push_back({"too-many-errors", "web", 1500, 0.8});
  md = make_markdown(ex, r);
  CHECK(md.find("| **yes**, at 1500.0 ms (00:00:00.750 UTC) (80% failed) |") != std::string::npos);
  CHECK(md.find("No guard tripped.") == std::string::npos);
  html = html_of(ex, r);
  CHECK(html.find("yes</b>, at 1500.0 ms (00:00:00.750 UTC) (80% failed)") != std::string::npos);
  CHECK(html.find("No guard tripped.") == std::string::npos);

  // No guards at all is said too.
  CHECK(make_markdown(experiment(), passed_run()).find("No guards declared: nothing could stop the run early.") !=
        std::string::npos);
}

TEST_CASE("the steps table and the timeline axis carry wall-clock times", "[unit][reports]") {
  auto ex = experiment();
  auto r = passed_run();  // started 23:59:59.250 UTC: the step at +1 s is past midnight
  r.steps.push_back(stop_step());
  auto md = make_markdown(ex, r);
  CHECK(md.find("| 1000.0 ms (00:00:00.250 UTC) | 6001.0 ms (00:00:05.251 UTC) |") != std::string::npos);
  auto html = html_of(ex, r);
  CHECK(html.find("<td class=\"num\">1000.0 ms (00:00:00.250 UTC)</td>") != std::string::npos);
  // The axis: offsets, and under each its wall-clock time.
  CHECK(html.find(">wall clock (UTC)</text>") != std::string::npos);
  CHECK(html.find("class=\"axis-clock\" text-anchor=\"middle\">23:59:59.250</text>") != std::string::npos);
  CHECK(html.find("class=\"axis-clock\" text-anchor=\"middle\">00:00:01.250</text>") != std::string::npos);
  CHECK(html.find("class=\"axis\" text-anchor=\"middle\">+2s</text>") != std::string::npos);
}

TEST_CASE("a phase without samples says why instead of showing an empty row", "[unit][reports]") {
  auto ex = experiment();  // probe interval 500 ms
  auto r = passed_run();
  r.metrics.first_fault_ms = 1000;
  r.metrics.phases["fault"] = PhaseStats{};
  r.metrics.phase_spans["fault"] = {1000, 1012};
  PhaseStats recovery;
  recovery.samples = 6;
  r.metrics.phases["recovery"] = recovery;
  r.metrics.phase_spans["recovery"] = {1012, 4000};
  const std::string why = "no sample fell in this phase: it lasted 12 ms, shorter than the probe interval 500 ms";
  auto md = make_markdown(ex, r);
  CHECK(md.find("| fault | 0: " + why + " | – | – | – | – | – |") != std::string::npos);
  CHECK(md.find("| recovery | 6 | 0 |") != std::string::npos);
  auto html = html_of(ex, r);
  CHECK(html.find("<tr class=\"empty-phase\"><td>fault</td><td class=\"empty-phase\" colspan=\"6\">" + why +
                  "</td></tr>") != std::string::npos);
}

TEST_CASE("process.stop says what it did: what it stopped, for how long, and that it resumed them",
          "[unit][reports]") {
  auto ex = experiment();
  auto r = passed_run();
  r.steps.push_back(stop_step());
  const std::string did =
      "stopped 2 of 2 processes (state T); held 5.0 s, then resumed them (demo-service 4242, demo-service 4243)";
  CHECK(make_markdown(ex, r).find("| " + did + " |") != std::string::npos);
  CHECK(html_of(ex, r).find("<td class=\"detail\">" + did + "</td>") != std::string::npos);
  // One that was not resumed says so.
  r.steps[0].detail["resumed"] = {4242};
  CHECK(make_markdown(ex, r).find("; held 5.0 s, then resumed 1 of them (demo-service 4242, demo-service 4243) |") !=
        std::string::npos);
}

TEST_CASE("the phases of a load probe count requests and say so", "[unit][reports]") {
  auto ex = experiment();
  auto r = passed_run();
  PhaseStats load;
  load.samples = load.requests = 3000;
  r.metrics.phases["baseline"] = load;
  CHECK(make_markdown(ex, r).find("## Phases\n\n| phase | requests | failed |") != std::string::npos);
  CHECK(html_of(ex, r).find("<tr><th>phase</th><th>requests</th>") != std::string::npos);
  PhaseStats mixed = load;
  mixed.samples = 3010;  // ten samples of an ordinary probe among them
  r.metrics.phases["baseline"] = mixed;
  CHECK(make_markdown(ex, r).find("## Phases\n\n| phase | samples | failed |") != std::string::npos);
  CHECK(html_of(ex, r).find("<tr><th>phase</th><th>samples</th>") != std::string::npos);
}

TEST_CASE("a limit is written one way in the criterion, Markdown, HTML and JUnit", "[unit][reports]") {
  SloSpec slo;
  slo.recover_within = Millis(2000);
  slo.max_error_ratio = 0.01;
  RunMetrics m;
  m.time_to_recover_ms = 2500;
  PhaseStats impact;
  impact.samples = 100;
  impact.failures = 5;
  impact.error_ratio = 0.05;
  m.phases["impact"] = impact;
  auto r = passed_run();
  r.verdict = Verdict::failed;
  r.criteria = evaluate_slo(slo, m, true);
  REQUIRE(r.criteria.size() == 2);
  CHECK(r.criteria[0].detail == "recovered 2500 ms after the end of impact; limit ≤ 2000 ms");
  CHECK(r.criteria[1].detail == "5 of 100 samples failed from the first fault to recovery (5.00%); limit ≤ 1.00%");
  auto ex = experiment();
  auto md = make_markdown(ex, r);
  CHECK(md.find("| recover_within | 2500.0 ms | ≤ 2000 ms | **FAIL** |") != std::string::npos);
  CHECK(md.find("| max_error_ratio | 5.00% | ≤ 1.00% | **FAIL** |") != std::string::npos);
  auto html = html_of(ex, r);
  CHECK(html.find("<td class=\"num\">≤ 2000 ms</td>") != std::string::npos);
  CHECK(html.find("<td class=\"num\">≤ 1.00%</td>") != std::string::npos);
  auto xml = make_junit({{"x", "x.toml", &r, ""}});
  CHECK(xml.find("message=\"measured 2500.0 ms, limit ≤ 2000 ms\"") != std::string::npos);
  CHECK(xml.find("limit: ≤ 1.00%") != std::string::npos);
}

TEST_CASE("rebound history heads its error ratio and p99 columns as the impact phase's", "[integration][history]") {
  test::TempDir dir;
  auto history = History::open(dir.path() + "/h.sqlite");
  REQUIRE(history);
  auto j = test::read_json(test::source("tests/fixtures/journal-v1-freeze.json"));
  REQUIRE((*history)->record(j, dir.path() + "/journal.json"));
  auto r = test::run_rebound({"history", "--history", dir.path() + "/h.sqlite"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" impact error %  impact p99 ms  host") != std::string::npos);
  CHECK(r.out.find(" errors ") == std::string::npos);
}

namespace {

// The demo service, started by the test, frozen by process.stop: a run to interrupt, or one that fails.
struct FrozenService {
  test::TempDir dir;
  int port;
  test::Child service;
  std::string file;
  FrozenService(int port_, const std::string& stop_for, const std::string& slo)
      : port(port_), service({test::bin("rebound-demo-service"), "--port", std::to_string(port_)}) {
    REQUIRE(test::wait_for([&] { return test::port_open(port); }, 5000));
    file = dir.write("freeze.toml",
                     "name = \"freeze\"\n[[targets]]\nname = \"service\"\npid = " + std::to_string(service.pid()) +
                         "\n[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = \"http://127.0.0.1:" +
                         std::to_string(port) +
                         "/\"\ninterval = \"50ms\"\ntimeout = \"200ms\"\n[steady_state]\nwindow = \"300ms\"\n"
                         "[[method]]\nname = \"freeze-service\"\ntype = \"process.stop\"\ntarget = \"service\"\n"
                         "duration = \"" + stop_for + "\"\n[slo]\n" + slo);
  }
  std::vector<std::string> args() const {
    return {test::bin("rebound"), "run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
            "--no-progress", "--no-history"};
  }
};

}  // namespace

TEST_CASE("after SIGINT, criteria the run could not measure say 'not measured', not FAIL", "[integration][signals]") {
  FrozenService s(18937, "20s", "recover_within = \"2s\"\nstable_for = \"200ms\"\nmax_error_ratio = 0.5\n");
  test::Child rebound(s.args(), s.dir.path() + "/rebound.log");
  REQUIRE(test::wait_for([&] { return process_state(s.service.pid()) == 'T'; }, 10'000));  // mid-fault
  rebound.signal(SIGINT);
  auto code = rebound.wait(15'000);
  const std::string out = test::read_text(s.dir.path() + "/rebound.log");
  INFO(out);
  REQUIRE(code);
  CHECK(*code == 3);  // aborted, as before
  CHECK(out.find("FAIL recover_within") == std::string::npos);
  CHECK(out.find("-    recover_within         not measured (run interrupted after ") != std::string::npos);
  // The error ratio up to the interrupt is a measurement, but of a cut-short impact: it says so.
  CHECK(out.find(" max_error_ratio        ") != std::string::npos);
  CHECK(out.find("(partial: run interrupted after ") != std::string::npos);
  auto summary = test::read_text(s.dir.path() + "/r/freeze/summary.md");
  CHECK(summary.find("| recover_within | not measured (run interrupted after ") != std::string::npos);
  CHECK(summary.find("| ≤ 2000 ms | – |") != std::string::npos);
  CHECK(summary.find("watched") == std::string::npos);
  CHECK(summary.find("- time to recover: not measured (run interrupted)\n") != std::string::npos);
  auto j = test::read_json(s.dir.path() + "/r/freeze/journal.json");
  CHECK(j["verdict"] == "aborted");
  auto junit = test::read_text(s.dir.path() + "/r/junit.xml");
  CHECK(junit.find("<skipped message=\"not measured (run interrupted after ") != std::string::npos);
  auto html = test::read_text(s.dir.path() + "/r/freeze/report.html");
  CHECK(html.find("<td class=\"unmeasured\">not measured</td>") != std::string::npos);
  // process.stop's column says what it did, though it was cut short.
  CHECK(summary.find("stopped 1 of 1 processes (state T); held ") != std::string::npos);
  CHECK(summary.find(" s, then resumed it (rebound-demo-se " + std::to_string(s.service.pid()) + ") |") !=
        std::string::npos);
}

TEST_CASE("rebound run prints each failed criterion once, without a why line repeating it", "[integration][cli]") {
  FrozenService s(18938, "1s", "max_error_ratio = 0.0\nstable_for = \"200ms\"\n");
  auto r = test::run_rebound({"run", s.file, "--report-dir", s.dir.path() + "/r", "--state-dir", s.dir.path() + "/s",
                              "--no-progress", "--no-history"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("  FAIL max_error_ratio ") != std::string::npos);
  CHECK(r.out.find("why: max_error_ratio") == std::string::npos);
  CHECK(r.out.find("why:") == std::string::npos);
}
