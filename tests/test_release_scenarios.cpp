// Zero-downtime switch verification (issue 13): the `change` step's impact (the whole run of its command) is judged
// by the SLO like a fault's, and the shipped blue-green scenarios behind HAProxy pass for a careful switch and fail,
// naming the lost requests, for a hasty one.
#include <catch2/catch.hpp>
#include <filesystem>

#include "experiments/verdict.hpp"
#include "helpers.hpp"

namespace {

bool has_haproxy() { return std::filesystem::exists("/usr/sbin/haproxy") || std::filesystem::exists("/usr/bin/haproxy"); }

nlohmann::json run_release_scenario(const test::TempDir& dir, const std::string& name, int& exit_code) {
  auto r = test::run_rebound({"run", test::source("scenarios/release/" + name + ".toml"), "--report-dir",
                              dir.path() + "/" + name, "--state-dir", dir.path() + "/s", "--no-history",
                              "--no-progress"},
                             90'000);
  INFO(r.out << r.err);
  exit_code = r.exit_code;
  return test::read_json(dir.path() + "/" + name + "/" + name + "/journal.json");
}

const nlohmann::json* criterion_of(const nlohmann::json& j, const std::string& name) {
  for (const auto& c : j["slo"])
    if (c["criterion"] == name) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("a change step's impact runs from the start of its command to its end", "[unit][release]") {
  rebound::RunResult r;
  rebound::StepRecord change;
  change.name = "switch";
  change.kind = rebound::StepKind::change;
  change.started_ms = 1000;
  change.applied_ms = 1800;  // the command returned
  change.ended_ms = 1800;
  r.steps.push_back(change);
  CHECK(rebound::end_of_impact(r.steps) == Approx(1800));
  rebound::Experiment ex;
  rebound::RunTimes times;
  times.recovery_end = 3000;
  rebound::measure_run(r, ex, times);
  REQUIRE(r.metrics.first_fault_ms);
  CHECK(*r.metrics.first_fault_ms == Approx(1000));
  CHECK(*r.metrics.end_of_impact_ms == Approx(1800));
}

TEST_CASE("scenarios/release: a careful blue-green switch through HAProxy loses no request, a hasty one fails with "
          "the requests it lost",
          "[integration][release][haproxy]") {
  REQUIRE(has_haproxy());  // scripts/install-deps.sh --test installs it
  test::TempDir dir;
  int careful_exit = -1, hasty_exit = -1;
  auto careful = run_release_scenario(dir, "blue-green-switch", careful_exit);
  INFO(careful["reasons"].dump(2));
  CHECK(careful_exit == 0);
  CHECK(careful["verdict"] == "passed");
  const auto& step = careful["steps"][0];
  CHECK(step["kind"] == "change");
  CHECK(step["status"] == "done");
  CHECK(step["detail"]["stdout"].get<std::string>().find("green: UP") != std::string::npos);
  // Every request during the switch and after it was judged, and none failed.
  auto* ratio = criterion_of(careful, "max_error_ratio");
  REQUIRE(ratio);
  CHECK((*ratio)["passed"] == true);
  CHECK((*ratio)["value"] == 0);
  CHECK(careful["metrics"]["load_phases"]["users"]["impact"]["samples"].get<size_t>() >= 300);
  CHECK(criterion_of(careful, "max_p99") != nullptr);

  auto hasty = run_release_scenario(dir, "blue-green-hasty", hasty_exit);
  CHECK(hasty_exit == 1);
  CHECK(hasty["verdict"] == "failed");
  auto* lost = criterion_of(hasty, "max_error_ratio");
  REQUIRE(lost);
  CHECK((*lost)["passed"] == false);
  const size_t failures = hasty["metrics"]["load_phases"]["users"]["impact"]["failures"].get<size_t>();
  WARN("hasty switch: " << failures << " failed requests; " << (*lost)["detail"]);
  CHECK(failures >= 20);  // 300/s over about half a second without a live server
  bool named = false;
  for (const auto& reason : hasty["reasons"]) named |= reason.get<std::string>().starts_with("max_error_ratio:");
  CHECK(named);
}

TEST_CASE("scenarios/release/canary-shift.toml: a canary failing 20% of its 10% share fails on its own error ratio "
          "from Prometheus, a healthy one passes",
          "[integration][release][haproxy][prometheus]") {
  REQUIRE(has_haproxy());
  REQUIRE(std::filesystem::exists("/usr/bin/prometheus"));  // scripts/install-deps.sh --test installs it
  test::TempDir dir;
  auto run = [&](const std::string& percent, int& exit_code) {
    auto r = test::run_rebound({"run", test::source("scenarios/release/canary-shift.toml"), "--var",
                                "canary_fail_percent=" + percent, "--report-dir", dir.path() + "/r" + percent,
                                "--state-dir", dir.path() + "/s", "--no-history", "--no-progress"},
                               120'000);
    INFO(r.out << r.err);
    exit_code = r.exit_code;
    return test::read_json(dir.path() + "/r" + percent + "/canary-shift/journal.json");
  };
  int bad_exit = -1, good_exit = -1;
  auto bad = run("20", bad_exit);
  INFO(bad["reasons"].dump(2));
  CHECK(bad_exit == 1);
  auto* after = criterion_of(bad, "steady_state.after");
  REQUIRE(after);
  CHECK((*after)["passed"] == false);
  CHECK((*after)["detail"].get<std::string>().find("expected < 0.01") != std::string::npos);
  // The service as a whole stayed near 98% successful: the users' error ratio is small, the canary's is not.
  const auto& users = bad["metrics"]["load_phases"]["users"]["after"];
  CHECK(users["error_ratio"].get<double>() < 0.05);
  CHECK(users["error_ratio"].get<double>() > 0.005);

  auto good = run("0", good_exit);
  INFO(good["reasons"].dump(2));
  CHECK(good_exit == 0);
  CHECK(good["steps"][0]["detail"]["stdout"].get<std::string>().find("canary weight 10") != std::string::npos);
}
