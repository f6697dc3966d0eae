#pragma once
// Pure functions from timestamped probe samples to metrics, recovery and verdicts.
// Times are milliseconds on the experiment's monotonic clock (0 = experiment start).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probes/latency_histogram.hpp"

namespace rebound {

// The requests a load probe scheduled in one 10 ms bucket: each is a sample for every count below.
struct RequestCounts {
  uint32_t count = 0, failures = 0;
  SparseHistogram latency;  // of the requests that were sent (a request never sent has no latency)
};

// One sample, or one bucket of a load probe's requests (`requests` set): then t_ms is its first request's
// scheduled start, end_ms the end of its last failed request (of its last request when none failed), ok whether
// none failed, latency_ms the slowest, reason the first failure's.
struct Sample {
  double t_ms = 0;    // when the sample started
  double end_ms = 0;  // when its answer (or its timeout) came
  bool ok = false;
  double latency_ms = 0;
  std::string reason{};
  // Every member has a default initializer, so `{t, end, ok, latency, "reason"}` needs no more (and does not
  // warn with -Wmissing-field-initializers).
  std::shared_ptr<const RequestCounts> requests{};

  // How many samples this record stands for, and how many of them failed.
  size_t weight() const { return requests ? requests->count : 1; }
  size_t failed() const { return requests ? requests->failures : (ok ? 0 : 1); }
};

struct ProbeSeries {
  std::string name{};
  std::vector<Sample> samples{};  // in start order
  // A load probe's failed requests, one by one: the first ones up to a cap, and how many more there were.
  std::vector<Sample> failed_requests{};
  size_t failed_requests_dropped = 0;
};
using SeriesSet = std::vector<const ProbeSeries*>;

struct PhaseStats {
  size_t samples = 0;  // a load probe's requests count one each
  size_t failures = 0;
  double error_ratio = 0;
  // Latency over every sample in the phase (what a client would have waited), nearest rank; when a load probe
  // is among them, from a histogram of every request (probes/latency_histogram.hpp: within 0.4%).
  std::optional<double> p50, p95, p99;
  size_t requests = 0;  // how many of `samples` are a load probe's requests
};

// What a PhaseStats' `samples` counts, for messages: "samples", "requests" (all a load probe's) or "samples and
// requests".
const char* counted(const PhaseStats& s);

// A load probe's failed requests by cause, the most frequent first: "status 503 not in [200] × 60, timeout × 4";
// `dropped`: failed requests beyond the ones kept one by one, counted without a cause ("and 12 more").
std::string failure_causes_text(const std::vector<std::string>& reasons, size_t dropped);

// Nearest-rank percentile (p in 0..100); nullopt for no values.
std::optional<double> percentile(std::vector<double> values, double p);
// Samples that started in [from, to).
PhaseStats phase_stats(const SeriesSet& series, double from, double to);

struct Tolerance {
  double min_success_ratio = 1.0;
  std::optional<double> max_p50_ms, max_p95_ms, max_p99_ms;
};

struct ProbeCheck {
  std::string probe;
  PhaseStats stats;
  bool passed = false;
  std::string reason;  // why it failed, empty when it passed
};

struct SteadyStateCheck {
  double from_ms = 0, to_ms = 0;
  bool passed = false;
  std::vector<ProbeCheck> probes;
  std::string summary() const;  // "probe 'health': success 40.0% < 100.0%; ..."
};

// Each probe must have samples in [from, to) and meet the tolerance.
SteadyStateCheck check_steady_state(const SeriesSet& series, const Tolerance& tolerance, double from, double to);

// The first failed sample that started at or after `fault_start`; nullopt if none before `until`.
std::optional<double> find_impact(const SeriesSet& series, double fault_start, double until);

// The recovery moment: the earliest start of an ok sample at or after `end_of_impact` from which no
// sample of any probe fails for `stable_for` (failures count over their whole [t, end] span), each probe's
// first sample from that moment on is ok (a slow probe must pass again, not merely be silent), and every
// probe has a sample starting at or after the end of that window. nullopt if it never happened.
std::optional<double> find_recovery(const SeriesSet& series, double end_of_impact, double stable_for);

// A span of time during which a lasting fault was applied, [from, to).
struct FaultSpan {
  double from = 0, to = 0;
};

// The healing moment under a lasting fault: the start of the first span of `stable_for` in which every probe
// holds (as find_recovery: no failed sample, each probe passes again) and the tolerance's latency bounds are met,
// lying wholly inside one stretch during which a lasting fault was applied (overlapping spans count as one
// stretch), and starting at or after the first failed sample since `first_fault` when there is one (a system
// that was never hurt heals at its first stable span). nullopt when it never healed while a fault was applied.
std::optional<double> find_heal(const SeriesSet& series, double first_fault, const std::vector<FaultSpan>& under_fault,
                                double stable_for, const Tolerance& latency);

struct GuardRule {
  double max_failure_ratio = 0.5;
  double window_ms = 1000;
  size_t min_samples = 3;
};
// The failure ratio over (now - window, now] (samples and requests by their end) if the guard trips, nullopt otherwise.
std::optional<double> guard_trips(const ProbeSeries& series, const GuardRule& rule, double now);

enum class Verdict { passed, failed, inconclusive, aborted, error };
const char* to_string(Verdict v);
int exit_code(Verdict v);
// The worse of two verdicts, for a run of many experiments: error > aborted > failed > inconclusive > passed.
Verdict worst(Verdict a, Verdict b);

struct Criterion {
  std::string name;              // "recover_within", "max_error_ratio", "max_p99", "steady_state.after"...
  std::optional<double> value;   // nullopt: could not be measured (e.g. never recovered)
  double limit = 0;
  std::string unit;              // "ms", "ratio"
  bool passed = false;
  std::string detail;            // a sentence for people
  // false: the run stopped (an interrupt, a guard) before the criterion could be measured; it is neither a pass
  // nor a FAIL, and its detail says "not measured (run interrupted after 1.2 s)".
  bool measured = true;
};

}  // namespace rebound
