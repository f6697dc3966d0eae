// Metrics, recovery and verdicts computed from synthetic sample streams.
#include <catch2/catch.hpp>

#include "experiments/analysis.hpp"
#include "experiments/runner.hpp"

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
  CHECK(c[2].detail == "80.0 ms from the first fault to recovery; limit 50.0 ms");
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
        "did not recover: the steady state never held for 1s in the 5.0s watched after the end of impact; limit 2s");
}

TEST_CASE("no fault applied means no recovery criterion", "[unit][analysis]") {
  SloSpec slo;
  slo.recover_within = Millis(2000);
  CHECK(evaluate_slo(slo, RunMetrics{}, false).empty());
}
