// Time to heal (issue 15 item 1) as every report shows it: journal (schema 2), Markdown, JUnit, Prometheus,
// HTML; and `rebound report` still reading a schema 1 journal.
#include <catch2/catch.hpp>

#include "experiments/loader.hpp"
#include "helpers.hpp"
#include "reports/html.hpp"
#include "reports/journal.hpp"
#include "reports/junit.hpp"
#include "reports/markdown.hpp"
#include "reports/metrics.hpp"

using namespace rebound;

namespace {

// A backend frozen from 1000 to 6000 ms that the service routed around at 2100 ms.
RunResult healed_run() {
  RunResult r;
  r.verdict = Verdict::passed;
  r.started_at = "2026-01-01T00:00:00.000Z";
  r.duration_ms = 9000;
  auto& m = r.metrics;
  m.first_fault_ms = 1000;
  m.end_of_impact_ms = 6000;
  m.time_to_impact_ms = 50;
  m.first_impact_ms = 1050;
  m.healed_at_ms = 2100;
  m.time_to_heal_ms = 1100;
  m.under_fault_ms = 5000;
  m.recovered_at_ms = 6000;
  m.time_to_recover_ms = 4;
  m.step_heals.push_back({"freeze-b1", 1000, 6000, 2100, 1100});
  m.phases["degraded"] = PhaseStats{105, 52, 52.0 / 105, 1.0, 400.0, 401.0};
  m.phases["healed"] = PhaseStats{390, 0, 0, 1.0, 2.0, 3.0};
  r.criteria.push_back({"heal_within", 1100.0, 3000, "ms", true,
                        "healed 1100 ms after the first fault, while the fault was still applied; limit ≤ 3000 ms"});
  StepRecord step;
  step.name = "freeze-b1";
  step.type = "process.stop";
  step.kind = StepKind::lasting_fault;
  step.applied_ms = 1000;
  step.reverted_ms = 6000;
  r.steps.push_back(step);
  r.phases = {{"baseline", 0, 1000}, {"method", 1000, 6000}, {"recovery", 6000, 7000}, {"after", 7000, 9000}};
  return r;
}

Experiment experiment() {
  auto loaded = load_experiment_text("name = \"lb\"\n[[targets]]\nname = \"b1\"\npid = 1\n[[probes]]\nname = \"p\"\n"
                                     "type = \"tcp\"\nhost = \"h\"\nport = 1\n[[method]]\nname = \"freeze-b1\"\n"
                                     "type = \"process.stop\"\ntarget = \"b1\"\nduration = \"5s\"\n[slo]\n"
                                     "heal_within = \"3s\"\n",
                                     "lb.toml", LoadOptions{"/"});
  REQUIRE(loaded.diagnostics.format_all() == "");
  return *loaded.experiment;
}

}  // namespace

TEST_CASE("the journal is schema 2 with time to heal, per step, and the degraded and healed phases",
          "[unit][reports][heal]") {
  auto j = make_journal(experiment(), healed_run());
  CHECK(j["schema_version"] == 2);
  CHECK(j["experiment"]["slo"]["heal_within_ms"] == 3000);
  const auto& m = j["metrics"];
  CHECK(m["time_to_heal_ms"] == 1100);
  CHECK(m["healed_at_ms"] == 2100);
  CHECK(m["first_impact_ms"] == 1050);
  CHECK(m["heal_is_recovery"] == false);
  CHECK(m["under_fault_ms"] == 5000);
  REQUIRE(m["steps"].size() == 1);
  CHECK(m["steps"][0]["step"] == "freeze-b1");
  CHECK(m["steps"][0]["time_to_heal_ms"] == 1100);
  CHECK(m["phases"]["degraded"]["failures"] == 52);
  CHECK(m["phases"]["healed"]["failures"] == 0);
}

TEST_CASE("Markdown shows time to heal under the fault, per step, and the new phases", "[unit][reports][heal]") {
  auto md = make_markdown(experiment(), healed_run());
  CHECK(md.find("- time to heal: 1100.0 ms, under fault\n") != std::string::npos);
  CHECK(md.find("  - step `freeze-b1`: healed 1100.0 ms after it was applied, under fault\n") != std::string::npos);
  CHECK(md.find("| degraded | 105 | 52 | 49.52% |") != std::string::npos);
  CHECK(md.find("| healed | 390 | 0 | 0.00% |") != std::string::npos);
  auto never = healed_run();
  never.metrics.time_to_heal_ms.reset();
  never.metrics.healed_at_ms.reset();
  never.metrics.step_heals[0].healed_at_ms.reset();
  never.metrics.step_heals[0].time_to_heal_ms.reset();
  auto md2 = make_markdown(experiment(), never);
  CHECK(md2.find("- time to heal: did not heal under the fault (it lasted 5.0 s)\n") != std::string::npos);
  CHECK(md2.find("  - step `freeze-b1`: did not heal in the 5.0 s it was applied\n") != std::string::npos);
  auto kill = healed_run();
  kill.metrics.heal_is_recovery = true;
  kill.metrics.time_to_heal_ms = 350;
  kill.metrics.step_heals.clear();
  CHECK(make_markdown(experiment(), kill)
            .find("- time to heal: 350.0 ms (the faults were instant: time to heal is time to recover)\n") !=
        std::string::npos);
}

TEST_CASE("JUnit carries time to heal and the degraded and healed phases", "[unit][reports][heal]") {
  auto r = healed_run();
  auto xml = make_junit({{"lb", "lb.toml", &r, ""}});
  CHECK(xml.find("<property name=\"time_to_heal_ms\" value=\"1100.0\"/>") != std::string::npos);
  CHECK(xml.find("<property name=\"healed_under_fault\" value=\"yes\"/>") != std::string::npos);
  CHECK(xml.find("<property name=\"phase.degraded\" value=\"105 samples, 52 failed (49.52%), p99 401.0 ms\"/>") !=
        std::string::npos);
  CHECK(xml.find("<testcase classname=\"rebound.lb\" name=\"heal_within\"") != std::string::npos);
  CHECK(xml.find("limit ≤ 3000 ms\nphase degraded: 105 samples, 52 failed (49.52%), p99 401.0 ms\nphase healed: 390 "
                 "samples, 0 failed (0.00%), p99 3.0 ms</system-out>") != std::string::npos);
}

TEST_CASE("the Prometheus file has time to heal, per step, and the new phases", "[unit][reports][heal]") {
  auto prom = make_prometheus_metrics({make_journal(experiment(), healed_run())});
  CHECK(prom.find("# TYPE rebound_time_to_heal_seconds gauge\nrebound_time_to_heal_seconds{experiment=\"lb\"} 1.1\n") !=
        std::string::npos);
  CHECK(prom.find("rebound_step_time_to_heal_seconds{experiment=\"lb\",step=\"freeze-b1\"} 1.1\n") != std::string::npos);
  CHECK(prom.find("rebound_phase_error_ratio{experiment=\"lb\",phase=\"degraded\"}") != std::string::npos);
  CHECK(prom.find("rebound_phase_error_ratio{experiment=\"lb\",phase=\"healed\"} 0\n") != std::string::npos);
}

TEST_CASE("the HTML timeline marks healing under the fault and shades the degraded span", "[unit][reports][heal]") {
  auto html = make_html(make_journal(experiment(), healed_run()));
  CHECK(html.find("healed +1.1 s, under fault</text>") != std::string::npos);
  CHECK(html.find("<rect id=\"degraded\"") != std::string::npos);
  CHECK(html.find("id=\"heal-deadline\"") != std::string::npos);
  CHECK(html.find("time to heal <b>1100.0 ms</b>, under fault") != std::string::npos);
  CHECK(html.find("<tr><td>degraded</td>") != std::string::npos);
  // Never healed: the whole impact under the fault is degraded and nothing is marked healed.
  auto never = healed_run();
  never.metrics.time_to_heal_ms.reset();
  never.metrics.healed_at_ms.reset();
  auto html2 = make_html(make_journal(experiment(), never));
  CHECK(html2.find("healed +") == std::string::npos);
  CHECK(html2.find("<rect id=\"degraded\"") != std::string::npos);
  CHECK(html2.find("did not heal under the fault</b> (5.0 s)") != std::string::npos);
}

TEST_CASE("rebound report renders a schema 1 journal, which has no time to heal", "[integration][reports][heal]") {
  test::TempDir dir;
  const std::string v1 = test::source("tests/fixtures/journal-v1-freeze.json");
  REQUIRE(test::read_json(v1)["schema_version"] == 1);
  auto r = test::run_rebound({"report", v1, "--html", dir.path() + "/v1.html"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto html = test::read_text(dir.path() + "/v1.html");
  CHECK(html.find("id=\"timeline\"") != std::string::npos);
  CHECK(html.find("id=\"recovered\"") != std::string::npos);
  CHECK(html.find(">passed<") != std::string::npos);
  CHECK(html.find("journal schema 1") != std::string::npos);
  CHECK(html.find("time to heal") == std::string::npos);  // not measured then: not made up now
  CHECK(html.find("id=\"degraded\"") == std::string::npos);
}
