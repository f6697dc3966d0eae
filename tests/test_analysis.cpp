// Metrics, recovery and verdicts computed from synthetic sample streams.
#include <catch2/catch.hpp>

#include "experiments/analysis.hpp"
#include "experiments/runner.hpp"
#include "experiments/verdict.hpp"

using namespace rebound;

namespace {

// A probe sampled every `step` ms from `from` to `to`; samples in [fail_from, fail_to) fail.
ProbeSeries stream(const std::string& name, double from, double to, double step, double fail_from = -1,
                   double fail_to = -1, double latency = 1.0) {
  ProbeSeries s{name, {}};
  for (double t = from; t < to; t += step) {
    bool failed = t >= fail_from && t < fail_to;
    s.samples.push_back({t, t + latency, !failed, latency, failed ? "connection refused" : "status 200"});
  }
  return s;
}

}  // namespace

TEST_CASE("percentiles use the nearest rank", "[unit][analysis]") {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  CHECK(*percentile(v, 50) == 50);
  CHECK(*percentile(v, 95) == 95);
  CHECK(*percentile(v, 99) == 99);
  CHECK(*percentile({7}, 99) == 7);
  CHECK_FALSE(percentile({}, 50));
}

TEST_CASE("phase statistics count failures and latency over the phase only", "[unit][analysis]") {
  auto s = stream("h", 0, 1000, 10, 500, 600);
  auto stats = phase_stats({&s}, 400, 700);
  CHECK(stats.samples == 30);
  CHECK(stats.failures == 10);
  CHECK(stats.error_ratio == Approx(1.0 / 3));
  auto empty = phase_stats({&s}, 5000, 6000);
  CHECK(empty.samples == 0);
  CHECK(empty.error_ratio == 0);
  CHECK_FALSE(empty.p50);
}

TEST_CASE("the steady state holds only when every probe meets the tolerance", "[unit][analysis]") {
  auto good = stream("good", 0, 1000, 10);
  auto flaky = stream("flaky", 0, 1000, 10, 0, 100);  // 10% failed
  Tolerance strict;
  CHECK(check_steady_state({&good}, strict, 0, 1000).passed);
  auto failed = check_steady_state({&good, &flaky}, strict, 0, 1000);
  CHECK_FALSE(failed.passed);
  CHECK(failed.summary() ==
        "probe 'flaky': success 90.0% < 100.0% (10 of 100 samples failed, last: connection refused)");
  Tolerance lenient;
  lenient.min_success_ratio = 0.9;
  CHECK(check_steady_state({&good, &flaky}, lenient, 0, 1000).passed);
}

TEST_CASE("the steady state fails on a latency bound", "[unit][analysis]") {
  auto slow = stream("slow", 0, 1000, 10, -1, -1, 250);
  Tolerance t;
  t.max_p99_ms = 100;
  auto check = check_steady_state({&slow}, t, 0, 1000);
  CHECK_FALSE(check.passed);
  CHECK(check.summary() == "probe 'slow': p99 latency 250.0ms > 100.0ms");
}

TEST_CASE("a steady state with no samples does not hold", "[unit][analysis]") {
  ProbeSeries none{"none", {}};
  auto check = check_steady_state({&none}, Tolerance{}, 0, 1000);
  CHECK_FALSE(check.passed);
  CHECK(check.summary() == "probe 'none': no samples in the window");
}

TEST_CASE("time to impact is the first failure after the fault", "[unit][analysis]") {
  auto s = stream("h", 0, 3000, 10, 1030, 1400);
  CHECK(*find_impact({&s}, 1000, 3000) == 1030);
  auto healthy = stream("h", 0, 3000, 10);
  CHECK_FALSE(find_impact({&healthy}, 1000, 3000));
}

TEST_CASE("recovery is the start of the first stable stretch after the end of impact", "[unit][analysis]") {
  // Killed at 1000 ms; failing until 1350 ms; healthy afterwards.
  auto s = stream("h", 0, 4000, 10, 1000, 1350);
  auto recovered = find_recovery({&s}, 1000, 1000);
  REQUIRE(recovered);
  CHECK(*recovered == 1350);
}

TEST_CASE("a probe that never recovers gives no recovery moment", "[unit][analysis]") {
  auto s = stream("h", 0, 4000, 10, 1000, 99999);
  CHECK_FALSE(find_recovery({&s}, 1000, 500));
}

TEST_CASE("a stretch shorter than stable_for is not recovery", "[unit][analysis]") {
  // Healthy 1300-1500 (200 ms), failing again 1500-2000, healthy after 2000.
  auto s = stream("h", 0, 5000, 10, 1000, 2000);
  for (auto& x : s.samples)
    if (x.t_ms >= 1300 && x.t_ms < 1500) x.ok = true;
  CHECK(*find_recovery({&s}, 1000, 1000) == 2000);
}

TEST_CASE("recovery needs samples covering the whole stable window", "[unit][analysis]") {
  auto s = stream("h", 0, 1800, 10, 1000, 1300);  // observation ends 500 ms after the last failure
  CHECK_FALSE(find_recovery({&s}, 1000, 1000));
  CHECK(*find_recovery({&s}, 1000, 400) == 1300);
}

TEST_CASE("a slow failed sample overlapping the window prevents recovery there", "[unit][analysis]") {
  // A probe blocked by a frozen process: one sample started at 1000 and timed out at 2000.
  ProbeSeries s{"h", {}};
  for (double t = 0; t < 1000; t += 10) s.samples.push_back({t, t + 1, true, 1, ""});
  s.samples.push_back({1000, 2000, false, 1000, "timeout"});
  for (double t = 2000; t < 4000; t += 10) s.samples.push_back({t, t + 1, true, 1, ""});
  ProbeSeries fast = stream("fast", 0, 4000, 10);
  // The fast probe looks fine from 1000 on, but the slow probe failed until 2000.
  CHECK(*find_recovery({&s, &fast}, 1000, 500) == 2000);
}

TEST_CASE("every steady-state probe must recover", "[unit][analysis]") {
  auto a = stream("a", 0, 5000, 10, 1000, 1200);
  auto b = stream("b", 0, 5000, 10, 1000, 2500);
  CHECK(*find_recovery({&a, &b}, 1000, 1000) == 2500);
}

TEST_CASE("a slow probe must pass again before recovery, not merely be silent", "[unit][analysis]") {
  // Issue 17 item 12: a probe sampled every 5 s failed at 9 s (before the end of impact at 11 s) and again at
  // 14 s, and passed at 19 s; a fast probe is fine from 11 s on. Recovery cannot be before the slow probe's
  // failure at 14 s: the first moment after which its next sample passes is the fast probe's 14.1 s.
  ProbeSeries slow{"slow", {}};
  for (double t : {4000.0, 9000.0, 14000.0, 19000.0, 24000.0})
    slow.samples.push_back({t, t + 1, t != 9000 && t != 14000, 1, ""});
  auto fast = stream("fast", 0, 30000, 100, 9000, 11000);
  auto recovered = find_recovery({&slow, &fast}, 11000, 2000);
  REQUIRE(recovered);
  CHECK(*recovered == 14100);
  // The same probes with the slow one passing at 14 s recover at once.
  slow.samples[2].ok = true;
  CHECK(*find_recovery({&slow, &fast}, 11000, 2000) == 11000);
}

TEST_CASE("recovery with no probes at all is never found", "[unit][analysis]") {
  CHECK_FALSE(find_recovery({}, 0, 100));
}

TEST_CASE("a guard trips on the failure ratio over its window", "[unit][analysis]") {
  auto s = stream("h", 0, 3000, 10, 2000, 3000);
  GuardRule rule{0.5, 1000, 3};
  CHECK_FALSE(guard_trips(s, rule, 1990));
  auto ratio = guard_trips(s, rule, 2800);
  REQUIRE(ratio);
  CHECK(*ratio == Approx(0.8).margin(0.02));
  GuardRule needs_many{0.5, 1000, 500};
  CHECK_FALSE(guard_trips(s, needs_many, 2800));
}

TEST_CASE("verdicts map to distinct exit codes and combine to the worst", "[unit][analysis]") {
  CHECK(exit_code(Verdict::passed) == 0);
  CHECK(exit_code(Verdict::failed) == 1);
  CHECK(exit_code(Verdict::inconclusive) == 2);
  CHECK(exit_code(Verdict::aborted) == 3);
  CHECK(exit_code(Verdict::error) == 4);
  CHECK(worst(Verdict::passed, Verdict::failed) == Verdict::failed);
  CHECK(worst(Verdict::inconclusive, Verdict::failed) == Verdict::failed);
  CHECK(worst(Verdict::aborted, Verdict::error) == Verdict::error);
  CHECK(worst(Verdict::passed, Verdict::passed) == Verdict::passed);
}

TEST_CASE("SLO criteria carry the measured value and the limit", "[unit][analysis]") {
  SloSpec slo;
  slo.recover_within = Millis(2000);
  slo.max_error_ratio = 0.1;
  slo.max_p99 = Millis(50);
  RunMetrics m;
  m.time_to_recover_ms = 2500;
  m.phases["impact"] = PhaseStats{100, 5, 0.05, 1.0, 20.0, 80.0};
  auto c = evaluate_slo(slo, m, true);
  REQUIRE(c.size() == 3);
  CHECK(c[0].name == "recover_within");
  CHECK_FALSE(c[0].passed);
  CHECK(*c[0].value == 2500);
  CHECK(c[0].limit == 2000);
  CHECK(c[1].name == "max_error_ratio");
  CHECK(c[1].passed);
  CHECK(c[2].name == "max_p99");
  CHECK_FALSE(c[2].passed);
  CHECK(c[2].detail == "80.0 ms from the first fault to recovery; limit ≤ 50 ms");
}

TEST_CASE("an experiment that never recovered fails recover_within with no value", "[unit][analysis]") {
  SloSpec slo;
  slo.recover_within = Millis(2000);
  RunMetrics m;
  m.observed_ms = 5000;
  auto c = evaluate_slo(slo, m, true);
  REQUIRE(c.size() == 1);
  CHECK_FALSE(c[0].passed);
  CHECK_FALSE(c[0].value);
  CHECK(c[0].detail ==
        "did not recover: the steady state never held for 1s in the 5.0s watched after the end of impact; limit ≤ 2000 ms");
}

TEST_CASE("no fault applied means no recovery criterion", "[unit][analysis]") {
  SloSpec slo;
  slo.recover_within = Millis(2000);
  CHECK(evaluate_slo(slo, RunMetrics{}, false).empty());
}

TEST_CASE("healing is the first stable span while the lasting fault is still applied", "[unit][analysis][heal]") {
  // A backend frozen at 1000 ms for 5 s; the balancer takes it out and failures stop at 1800 ms.
  auto s = stream("h", 0, 9000, 10, 1030, 1800);
  auto healed = find_heal({&s}, 1000, {{1000, 6000}}, 1000, Tolerance{});
  REQUIRE(healed);
  CHECK(*healed == 1800);
  // Recovery, measured from the revert, knows nothing of it: it is the revert itself.
  CHECK(*find_recovery({&s}, 6000, 1000) == 6000);
}

TEST_CASE("a system that heals only after the revert never healed under the fault", "[unit][analysis][heal]") {
  auto s = stream("h", 0, 9000, 10, 1000, 6000);  // failing for the whole fault
  CHECK_FALSE(find_heal({&s}, 1000, {{1000, 6000}}, 1000, Tolerance{}));
  CHECK(*find_recovery({&s}, 6000, 1000) == 6000);
}

TEST_CASE("the healed span must end before the fault is reverted", "[unit][analysis][heal]") {
  // Failures stop at 5500: 500 ms of health before the revert at 6000 is shorter than stable_for.
  auto s = stream("h", 0, 9000, 10, 1000, 5500);
  CHECK_FALSE(find_heal({&s}, 1000, {{1000, 6000}}, 1000, Tolerance{}));
  CHECK(*find_heal({&s}, 1000, {{1000, 6000}}, 400, Tolerance{}) == 5500);
}

TEST_CASE("healing starts after the first impact, not in the calm before it", "[unit][analysis][heal]") {
  // The first failure comes 1500 ms into the fault (after a stable_for of calm), then the system heals at 2500.
  auto s = stream("h", 0, 9000, 10, 2500, 3500);
  CHECK(*find_heal({&s}, 1000, {{1000, 8000}}, 1000, Tolerance{}) == 3500);
  // Never hurt at all: healed at the fault's start.
  auto calm = stream("h", 0, 9000, 10);
  CHECK(*find_heal({&calm}, 1000, {{1000, 8000}}, 1000, Tolerance{}) == 1000);
}

TEST_CASE("healing needs the steady state's latency bounds, not only ok samples", "[unit][analysis][heal]") {
  // Every sample succeeds, but until 3000 ms they take 400 ms (a client retrying on the frozen backend).
  ProbeSeries s{"h", {}};
  for (double t = 0; t < 9000; t += 10) {
    double latency = t >= 1000 && t < 3000 ? 400 : 2;
    s.samples.push_back({t, t + latency, true, latency, "status 200"});
  }
  Tolerance bounds;
  bounds.max_p99_ms = 100;
  // Nearest rank: the first window with at most one slow sample in a hundred meets p99.
  CHECK(*find_heal({&s}, 1000, {{1000, 8000}}, 1000, bounds) == 2990);
  CHECK(*find_heal({&s}, 1000, {{1000, 8000}}, 1000, Tolerance{}) == 1000);
}

TEST_CASE("healing spans merge overlapping faults and skip the gaps between them", "[unit][analysis][heal]") {
  auto s = stream("h", 0, 12000, 10, 1000, 2500);
  // Two overlapping faults make one stretch 1000-4000: healed at 2500 inside it.
  CHECK(*find_heal({&s}, 1000, {{1000, 3000}, {2000, 4000}}, 1000, Tolerance{}) == 2500);
  // Two faults with a gap 3000-6000: the calm gap is not "under the fault"; the second one is from 6000.
  auto t = stream("h", 0, 12000, 10, 1000, 3000);
  CHECK(*find_heal({&t}, 1000, {{1000, 3000}, {6000, 9000}}, 1000, Tolerance{}) == 6000);
}

TEST_CASE("heal_within passes on a fast failover and says it healed under the fault", "[unit][analysis][heal]") {
  SloSpec slo;
  slo.heal_within = Millis(3000);
  RunMetrics m;
  m.time_to_heal_ms = 1100;
  m.under_fault_ms = 5000;
  auto c = evaluate_slo(slo, m, true);
  REQUIRE(c.size() == 1);
  CHECK(c[0].name == "heal_within");
  CHECK(c[0].passed);
  CHECK(c[0].detail == "healed 1100 ms after the first fault, while the fault was still applied; limit ≤ 3000 ms");
}

TEST_CASE("a run that did not heal under the fault fails heal_within and says how long the fault lasted",
          "[unit][analysis][heal]") {
  SloSpec slo;
  slo.heal_within = Millis(3000);
  RunMetrics m;
  m.under_fault_ms = 5000;
  auto c = evaluate_slo(slo, m, true);
  REQUIRE(c.size() == 1);
  CHECK_FALSE(c[0].passed);
  CHECK_FALSE(c[0].value);
  CHECK(c[0].detail == "did not heal under the fault: the steady state never held for 1s while a lasting fault was "
                       "applied (the fault lasted 5.0s); limit ≤ 3000 ms");
  // A fault too short to see healing says so.
  m.under_fault_ms = 2000;
  CHECK(evaluate_slo(slo, m, true)[0].detail ==
        "did not heal under the fault: the steady state never held for 1s while a lasting fault was applied (the "
        "fault lasted 2.0s); limit ≤ 3000 ms; the fault was shorter than heal_within + stable_for (4s): lengthen it to see "
        "healing");
}

TEST_CASE("with an instant fault, time to heal is time to recover and heal_within says so", "[unit][analysis][heal]") {
  SloSpec slo;
  slo.heal_within = Millis(3000);
  RunMetrics m;
  m.heal_is_recovery = true;
  m.time_to_heal_ms = 350;
  auto c = evaluate_slo(slo, m, true);
  REQUIRE(c.size() == 1);
  CHECK(c[0].passed);
  CHECK(c[0].detail == "healed 350 ms after the fault: the faults were instant, so time to heal is time to recover; "
                       "limit ≤ 3000 ms");
  m.time_to_heal_ms.reset();
  m.observed_ms = 7000;
  auto never = evaluate_slo(slo, m, true);
  CHECK_FALSE(never[0].passed);
  CHECK(never[0].detail == "did not heal: the faults were instant and the steady state never held for 1s in the 7.0s "
                           "watched after them; limit ≤ 3000 ms");
}

TEST_CASE("a heal-time regression against the baseline run fails its criterion", "[unit][analysis][heal]") {
  auto c = heal_regression_criterion(1500, 1000, 7, 0.2);
  CHECK(c.name == "regression.time_to_heal");
  CHECK_FALSE(c.passed);
  CHECK(c.detail == "healed in 1500 ms; baseline run 7 healed in 1000 ms; limit ≤ 1200 ms (+20%)");
  CHECK(heal_regression_criterion(1100, 1000, 7, 0.2).passed);
}

namespace {

StepRecord lasting_step(const std::string& name, double applied, double reverted) {
  StepRecord r;
  r.name = name;
  r.type = "process.stop";
  r.kind = StepKind::lasting_fault;
  r.applied_ms = applied;
  r.reverted_ms = reverted;
  r.status = StepStatus::done;
  return r;
}

}  // namespace

TEST_CASE("a run measures time to heal, per lasting step, and the degraded and healed phases",
          "[unit][analysis][heal]") {
  Experiment ex;
  ex.steady_state.probes = {"h"};
  RunResult r;
  r.probes.push_back(stream("h", 0, 10000, 10, 1050, 2100));
  r.steps.push_back(lasting_step("freeze", 1000, 6000));
  measure_run(r, ex, RunTimes{0, 1000, 8000, 8000, 10000});
  const auto& m = r.metrics;
  REQUIRE(m.time_to_heal_ms);
  CHECK(*m.time_to_heal_ms == Approx(1100));
  CHECK_FALSE(m.heal_is_recovery);
  CHECK(*m.under_fault_ms == 5000);
  CHECK(*m.time_to_recover_ms == 0);  // healthy at the revert: recovery alone would say nothing happened
  REQUIRE(m.step_heals.size() == 1);
  CHECK(m.step_heals[0].step == "freeze");
  CHECK(*m.step_heals[0].time_to_heal_ms == Approx(1100));
  REQUIRE(m.phases.count("degraded"));
  CHECK(m.phases.at("degraded").failures == 105);  // 1050 to 2100
  CHECK(m.phases.at("degraded").samples == 105);
  REQUIRE(m.phases.count("healed"));
  CHECK(m.phases.at("healed").failures == 0);
  CHECK(m.phases.at("healed").samples == 390);  // 2100 to 6000
}

TEST_CASE("a run with only a kill reports time to heal as time to recover", "[unit][analysis][heal]") {
  Experiment ex;
  ex.steady_state.probes = {"h"};
  RunResult r;
  r.probes.push_back(stream("h", 0, 6000, 10, 1000, 1400));
  StepRecord kill;
  kill.name = "kill";
  kill.kind = StepKind::instant_fault;
  kill.applied_ms = 1000;
  r.steps.push_back(kill);
  measure_run(r, ex, RunTimes{0, 1000, 5000, 5000, 6000});
  const auto& m = r.metrics;
  CHECK(m.heal_is_recovery);
  REQUIRE(m.time_to_heal_ms);
  CHECK(*m.time_to_heal_ms == *m.time_to_recover_ms);
  CHECK(*m.time_to_recover_ms == 400);
  CHECK(m.step_heals.empty());
  CHECK_FALSE(m.phases.count("healed"));
}
