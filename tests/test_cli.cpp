// rebound as a user runs it: exit codes, journals, JUnit, dry runs, and nothing injected on bad input.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <regex>

#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using test::run_rebound;

namespace {

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// True when python3's XML parser accepts the file.
bool well_formed_xml(const std::string& path) {
  return std::system(("python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' " + path).c_str()) == 0;
}

// An experiment whose target is a sleeping process the test owns.
std::string sleeper_experiment(pid_t pid, const std::string& probe, const std::string& extra = "") {
  return "name = \"sleeper\"\n[[targets]]\nname = \"victim\"\npid = " + std::to_string(pid) + "\n" + probe +
         "[steady_state]\nwindow = \"300ms\"\n[[method]]\nname = \"kill-victim\"\ntype = \"process.kill\"\ntarget = "
         "\"victim\"\n" +
         extra;
}

const std::string kTrueProbe =
    "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n";

}  // namespace

TEST_CASE("demo: the supervised service recovers within the SLO and passes", "[integration][demo]") {
  test::TempDir reports;
  auto r = run_rebound({"run", test::source("scenarios/demo/kill-supervised.toml"), "--report-dir", reports.path(),
                    "--state-dir", reports.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("demo-kill-supervised: passed (exit 0)") != std::string::npos);

  auto j = test::read_json(reports.path() + "/demo-kill-supervised/journal.json");
  CHECK(j["schema_version"] == 2);
  CHECK(j["verdict"] == "passed");
  CHECK(j["status"] == "completed");
  CHECK(j["exit_code"] == 0);
  // The kill hit the service the setup started, and the supervisor brought it back.
  REQUIRE(j["steps"].size() == 1);
  CHECK(j["steps"][0]["type"] == "process.kill");
  CHECK(j["steps"][0]["status"] == "done");
  CHECK(j["steps"][0]["detail"]["signal"] == "SIGKILL");
  const double ttr = j["metrics"]["time_to_recover_ms"];
  CHECK(ttr > 150);  // the supervisor waits 150 ms and the service warms up 200 ms before it answers
  CHECK(ttr < 2000);
  CHECK(j["metrics"]["time_to_impact_ms"].get<double>() < 200);
  CHECK(j["metrics"]["phases"]["baseline"]["error_ratio"] == 0);
  CHECK(j["metrics"]["phases"]["recovery"]["failures"].get<int>() > 0);
  // Every probe sample is in the journal, timestamped.
  const auto& health = j["probes"][0];
  CHECK(health["name"] == "health");
  CHECK(health["samples"].size() > 100);
  CHECK(health["samples"][0].contains("t_ms"));
  bool criteria_named = false;
  for (const auto& c : j["slo"])
    if (c["criterion"] == "recover_within") {
      criteria_named = true;
      CHECK(c["passed"] == true);
      CHECK(c["limit"] == 2000);
      CHECK(c["value"] == ttr);
    }
  CHECK(criteria_named);
  // The service the setup started is gone after teardown.
  CHECK(rebound::match_target({.name = "s",
                               .kind = rebound::TargetKind::cmdline,
                               .value = "rebound-demo-service --port 18181",
                               .max_targets = 5})
            ->empty());

  auto junit = test::read_text(reports.path() + "/junit.xml");
  CHECK(well_formed_xml(reports.path() + "/junit.xml"));
  CHECK(count(junit, "<testsuite ") == 1);
  CHECK(junit.find("name=\"recover_within\"") != std::string::npos);
  CHECK(count(junit, "<failure") == 0);
  CHECK(fs::exists(reports.path() + "/demo-kill-supervised/summary.md"));
}

TEST_CASE("demo: the unsupervised service never recovers and fails naming recover_within", "[integration][demo]") {
  test::TempDir reports;
  auto r = run_rebound({"run", test::source("scenarios/demo/kill-unsupervised.toml"), "--report-dir", reports.path(),
                    "--state-dir", reports.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("FAIL recover_within") != std::string::npos);
  auto j = test::read_json(reports.path() + "/demo-kill-unsupervised/journal.json");
  CHECK(j["verdict"] == "failed");
  CHECK(j["metrics"]["time_to_recover_ms"].is_null());
  bool named = false;
  for (const auto& c : j["slo"])
    if (c["criterion"] == "recover_within") {
      named = true;
      CHECK(c["passed"] == false);
      CHECK(c["value"].is_null());
    }
  CHECK(named);
  auto junit = test::read_text(reports.path() + "/junit.xml");
  CHECK(well_formed_xml(reports.path() + "/junit.xml"));
  CHECK(std::regex_search(junit, std::regex("name=\"recover_within\"[^>]*>\\s*<failure")));
  auto summary = test::read_text(reports.path() + "/demo-kill-unsupervised/summary.md");
  CHECK(summary.find("| recover_within | did not recover | ≤ 2000 ms | **FAIL** |") != std::string::npos);
}

TEST_CASE("a run of several experiments exits with the worst verdict and one JUnit file", "[integration][demo]") {
  test::TempDir reports;
  auto r = run_rebound({"run", test::source("scenarios/demo/kill-supervised.toml"),
                    test::source("scenarios/demo/kill-unsupervised.toml"), "--report-dir", reports.path(),
                    "--state-dir", reports.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  auto junit = test::read_text(reports.path() + "/junit.xml");
  CHECK(count(junit, "<testsuite ") == 2);
  CHECK(fs::exists(reports.path() + "/demo-kill-supervised/journal.json"));
  CHECK(fs::exists(reports.path() + "/demo-kill-unsupervised/journal.json"));
}

TEST_CASE("targets are resolved again at each step: a second kill hits the restarted process", "[integration]") {
  test::TempDir dir;
  auto file = dir.write("twice.toml", R"(
name = "kill-twice"
[[targets]]
name = "service"
cmdline = "^[^ ]*/rebound-demo-service --port 18191"
[[probes]]
name = "health"
type = "http"
url = "http://127.0.0.1:18191/"
interval = "20ms"
[steady_state]
window = "500ms"
[[setup]]
argv = ["${rebound_bin_dir}/rebound-supervisor", "--restart-delay-ms", "50", "--", "${rebound_bin_dir}/rebound-demo-service", "--port", "18191"]
background = true
ready_probe = "health"
[[method]]
name = "first"
type = "process.kill"
target = "service"
[[method]]
name = "second"
type = "process.kill"
target = "service"
start = "1500ms"
[slo]
recover_within = "2s"
stable_for = "500ms"
)");
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/r/kill-twice/journal.json");
  REQUIRE(j["steps"].size() == 2);
  auto first = j["steps"][0]["detail"]["signalled"][0]["pid"].get<int>();
  auto second = j["steps"][1]["detail"]["signalled"][0]["pid"].get<int>();
  CHECK(first != second);
  CHECK(j["steps"][1]["applied_ms"].get<double>() - j["steps"][0]["applied_ms"].get<double>() ==
        Approx(1500).margin(100));
}

TEST_CASE("an invalid file exits 4 with file:line:column and injects nothing", "[integration][validation]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  auto file = dir.write("bad.toml", sleeper_experiment(victim.pid(), kTrueProbe, "[slo]\nrecover_within = 2\n"));
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  CHECK(r.exit_code == 4);
  CHECK(r.err.find(file + ":17:18: error: slo.recover_within: a duration needs a unit: write \"2s\" or \"2ms\"") !=
        std::string::npos);
  CHECK(victim.alive());
  auto junit = test::read_text(dir.path() + "/r/junit.xml");
  CHECK(junit.find("<error type=\"invalid\"") != std::string::npos);

  auto v = run_rebound({"validate", file});
  CHECK(v.exit_code == 4);
  CHECK(v.err.find("bad.toml:17:18") != std::string::npos);
}

TEST_CASE("validate accepts the shipped scenarios", "[integration][validation]") {
  auto v = run_rebound({"validate", test::source("scenarios/demo/kill-supervised.toml"),
                    test::source("scenarios/demo/kill-unsupervised.toml")});
  INFO(v.err);
  CHECK(v.exit_code == 0);
  CHECK(count(v.out, ": valid") == 2);
}

TEST_CASE("a missing file is an error naming the file", "[integration][validation]") {
  auto v = run_rebound({"validate", "/nonexistent/x.toml"});
  CHECK(v.exit_code == 4);
  CHECK(v.err == "/nonexistent/x.toml:0:0: error: file: cannot read the file: No such file or directory\n");
}

TEST_CASE("a target that matches nothing is an error before anything runs", "[integration]") {
  test::TempDir dir;
  auto file = dir.write("x.toml", "name = \"x\"\n[[targets]]\nname = \"ghost\"\nexe = \"no-such-daemon\"\n" + kTrueProbe +
                                      "[[method]]\ntype = \"process.kill\"\ntarget = \"ghost\"\n");
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  CHECK(r.exit_code == 4);
  auto j = test::read_json(dir.path() + "/r/x/journal.json");
  CHECK(j["verdict"] == "error");
  CHECK(j["reasons"][0].get<std::string>().starts_with(
      "target 'ghost' (exe = \"no-such-daemon\") matches no running process; closest executables: "));
  CHECK(j["steps"].empty());
}

TEST_CASE("an unreachable endpoint fails the baseline: inconclusive, nothing injected", "[integration]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  auto file = dir.write("x.toml", sleeper_experiment(victim.pid(), "[[probes]]\nname = \"api\"\ntype = \"http\"\nurl = "
                                                                   "\"http://127.0.0.1:9/\"\ninterval = \"50ms\"\n"));
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(victim.alive());
  auto j = test::read_json(dir.path() + "/r/sleeper/journal.json");
  CHECK(j["verdict"] == "inconclusive");
  CHECK(j["reasons"][0].get<std::string>().starts_with(
      "baseline steady state not met, nothing was injected: probe 'api': success 0.0% < 100.0%"));
}

TEST_CASE("a step that fails makes the verdict error", "[integration]") {
  test::TempDir dir;
  auto file = dir.write("x.toml", "name = \"x\"\n" + kTrueProbe +
                                      "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"failover\"\ntype = "
                                      "\"command\"\nargv = [\"/bin/sh\", \"-c\", \"echo no leader >&2; exit 2\"]\n");
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  CHECK(r.exit_code == 4);
  auto j = test::read_json(dir.path() + "/r/x/journal.json");
  CHECK(j["verdict"] == "error");
  CHECK(j["steps"][0]["status"] == "error");
  CHECK(j["steps"][0]["error"] == "exit 2, expected 0: no leader");
}

TEST_CASE("rollbacks run after the faults, teardown last", "[integration]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  auto marker = dir.path() + "/order";
  auto file = dir.write("x.toml", sleeper_experiment(victim.pid(), kTrueProbe,
                                                     "[[rollbacks]]\nshell = true\nargv = [\"echo rollback >> " +
                                                         marker + "\"]\n[[teardown]]\nshell = true\nargv = [\"echo "
                                                                  "teardown >> " +
                                                         marker + "\"]\n"));
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(victim.wait(2000) == -SIGKILL);
  CHECK(test::read_text(marker) == "rollback\nteardown\n");
}

TEST_CASE("dry run validates, resolves targets, prints the timeline and injects nothing", "[integration]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  auto file = dir.write("x.toml", sleeper_experiment(victim.pid(), kTrueProbe));
  auto r = run_rebound({"run", "--dry-run", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("victim         pid \"" + std::to_string(victim.pid()) + "\" -> pid " +
                   std::to_string(victim.pid())) != std::string::npos);
  CHECK(r.out.find("method +0ms    kill-victim    process.kill") != std::string::npos);
  CHECK(r.out.find("dry run: nothing was injected") != std::string::npos);
  CHECK(victim.alive());
  CHECK_FALSE(fs::exists("rebound-reports"));
}

TEST_CASE("reports go to a new folder under rebound-reports/ by default, and its path is printed", "[integration]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  auto file = dir.write("x.toml", sleeper_experiment(victim.pid(), kTrueProbe));
  auto r = run_rebound({"run", file, "--state-dir", dir.path() + "/state"}, 60'000, dir.path());
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(r.out, m, std::regex("reports: (rebound-reports/[0-9TZ-]+)")));
  CHECK(fs::exists(dir.path() + "/" + m[1].str() + "/sleeper/journal.json"));
  CHECK(fs::exists(dir.path() + "/" + m[1].str() + "/junit.xml"));
}

TEST_CASE("faults lists every step type and probe type with parameters", "[integration]") {
  auto r = run_rebound({"faults"});
  CHECK(r.exit_code == 0);
  for (const char* name : {"process.kill", "process.stop", "command", "wait", "http", "tcp", "process"})
    CHECK(r.out.find(std::string("\n") + name) != std::string::npos);
  CHECK(std::regex_search(r.out, std::regex("\n  signal +string or integer +default \"SIGKILL\"")));
  CHECK(r.out.find("working directory working directory") == std::string::npos);
  CHECK(r.out.find("default rebound's working directory the folder the command runs in") != std::string::npos);
}

TEST_CASE("a usage error exits 4", "[integration]") {
  CHECK(run_rebound({"run"}).exit_code == 4);
  CHECK(run_rebound({"explode"}).exit_code == 4);
  CHECK(run_rebound({"--help"}).exit_code == 0);
}

TEST_CASE("dry run prints the verdict's rules: steady-state bounds, the SLO and the guards", "[integration]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  auto file = dir.write("x.toml", "name = \"rules\"\n[[targets]]\nname = \"victim\"\npid = " +
                                      std::to_string(victim.pid()) +
                                      "\n[[probes]]\nname = \"ok\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                      "[steady_state]\nwindow = \"500ms\"\nmin_success_ratio = 0.9\nmax_p95 = \"250ms\"\n"
                                      "[[guards]]\nname = \"stop-if-down\"\nprobe = \"ok\"\nmax_failure_ratio = 0.5\n"
                                      "window = \"2s\"\n[[method]]\ntype = \"process.stop\"\ntarget = \"victim\"\n"
                                      "duration = \"1s\"\n[slo]\nrecover_within = \"3s\"\nheal_within = \"1500ms\"\n");
  auto r = run_rebound({"run", "--dry-run", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("steady state: ok with success >= 90%, p95 <= 250ms") != std::string::npos);
  CHECK(r.out.find("  recover_within  3s\n") != std::string::npos);
  CHECK(r.out.find("  heal_within     1.5s (under the fault)\n") != std::string::npos);
  CHECK(r.out.find("  stop-if-down   probe ok: more than 50% failed over 2s") != std::string::npos);
  CHECK(rebound::process_state(victim.pid()) != 'T');  // nothing was injected
}
