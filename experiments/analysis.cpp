#include "experiments/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>

namespace rebound {

std::optional<double> percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

static PhaseStats stats_of(const std::vector<const Sample*>& samples) {
  PhaseStats s;
  bool any_requests = false;
  for (const Sample* x : samples) {
    s.samples += x->weight();
    s.failures += x->failed();
    any_requests = any_requests || x->requests;
    if (x->requests) s.requests += x->requests->count;
  }
  s.error_ratio = s.samples ? static_cast<double>(s.failures) / static_cast<double>(s.samples) : 0;
  if (any_requests) {
    // A load probe's buckets: every request's latency, from the histograms (one-by-one samples join them).
    LatencyHistogram h;
    for (const Sample* x : samples) {
      if (x->requests) h.add(x->requests->latency);
      else h.add(x->latency_ms);
    }
    s.p50 = h.percentile(50);
    s.p95 = h.percentile(95);
    s.p99 = h.percentile(99);
    return s;
  }
  std::vector<double> latencies;
  latencies.reserve(samples.size());
  for (const Sample* x : samples) latencies.push_back(x->latency_ms);
  s.p50 = percentile(latencies, 50);
  s.p95 = percentile(latencies, 95);
  s.p99 = percentile(latencies, 99);
  return s;
}

static std::vector<const Sample*> in_range(const ProbeSeries& series, double from, double to) {
  std::vector<const Sample*> out;
  for (const auto& s : series.samples)
    if (s.t_ms >= from && s.t_ms < to) out.push_back(&s);
  return out;
}

const char* counted(const PhaseStats& s) {
  if (s.requests == 0) return "samples";
  return s.requests == s.samples ? "requests" : "samples and requests";
}

PhaseStats phase_stats(const SeriesSet& series, double from, double to) {
  std::vector<const Sample*> all;
  for (const auto* p : series) {
    auto part = in_range(*p, from, to);
    all.insert(all.end(), part.begin(), part.end());
  }
  return stats_of(all);
}

std::string SteadyStateCheck::summary() const {
  std::string out;
  for (const auto& p : probes) {
    if (p.passed) continue;
    if (!out.empty()) out += "; ";
    out += fmt::format("probe '{}': {}", p.probe, p.reason);
  }
  return out.empty() ? "steady state holds" : out;
}

SteadyStateCheck check_steady_state(const SeriesSet& series, const Tolerance& tolerance, double from, double to) {
  SteadyStateCheck check;
  check.from_ms = from;
  check.to_ms = to;
  check.passed = true;
  for (const auto* p : series) {
    ProbeCheck pc;
    pc.probe = p->name;
    auto samples = in_range(*p, from, to);
    pc.stats = stats_of(samples);
    std::vector<std::string> problems;
    if (pc.stats.samples == 0) {
      problems.push_back("no samples in the window");
    } else {
      double success = 1.0 - pc.stats.error_ratio;
      if (success + 1e-9 < tolerance.min_success_ratio) {
        std::string last_reason;
        for (auto it = samples.rbegin(); it != samples.rend(); ++it)
          if (!(*it)->ok) {
            last_reason = (*it)->reason;
            break;
          }
        problems.push_back(fmt::format("success {:.1f}% < {:.1f}% ({} of {} {} failed, last: {})", success * 100,
                                       tolerance.min_success_ratio * 100, pc.stats.failures, pc.stats.samples,
                                       counted(pc.stats), last_reason));
      }
      auto bound = [&](const char* name, const std::optional<double>& value, const std::optional<double>& limit) {
        if (limit && value && *value > *limit)
          problems.push_back(fmt::format("{} latency {:.1f}ms > {:.1f}ms", name, *value, *limit));
      };
      bound("p50", pc.stats.p50, tolerance.max_p50_ms);
      bound("p95", pc.stats.p95, tolerance.max_p95_ms);
      bound("p99", pc.stats.p99, tolerance.max_p99_ms);
    }
    pc.passed = problems.empty();
    pc.reason = fmt::format("{}", fmt::join(problems, ", "));
    check.passed = check.passed && pc.passed;
    check.probes.push_back(std::move(pc));
  }
  return check;
}

std::optional<double> find_impact(const SeriesSet& series, double fault_start, double until) {
  std::optional<double> first;
  for (const auto* p : series)
    for (const auto& s : p->samples)
      if (!s.ok && s.t_ms >= fault_start && s.t_ms < until) {
        if (!first || s.t_ms < *first) first = s.t_ms;
        break;
      }
  return first;
}

namespace {
// One probe's samples in start order, with a running count of failures for range queries.
struct ProbeIndex {
  const ProbeSeries* series;
  std::vector<size_t> failed_before;  // failed_before[i]: failed samples among the first i

  explicit ProbeIndex(const ProbeSeries& s) : series(&s), failed_before(s.samples.size() + 1, 0) {
    for (size_t i = 0; i < s.samples.size(); ++i) failed_before[i + 1] = failed_before[i] + (s.samples[i].ok ? 0 : 1);
  }
  // The first sample starting at or after t.
  size_t first_from(double t) const {
    return static_cast<size_t>(std::lower_bound(series->samples.begin(), series->samples.end(), t,
                                                [](const Sample& s, double v) { return s.t_ms < v; }) -
                               series->samples.begin());
  }
  // Whether this probe holds from c for stable_for: its first sample at or after c, and every one starting
  // until c + stable_for, are ok (so a slow probe must have passed again, not merely been silent). On failure,
  // the end of the first failed sample in that range, before which no candidate can hold.
  std::optional<double> blocks(double c, double stable_for) const {
    const auto& samples = series->samples;
    const size_t from = first_from(c);
    if (from == samples.size()) return std::nullopt;  // coverage is checked separately
    const size_t to = std::max(from + 1, first_from(std::nextafter(c + stable_for, INFINITY)));
    if (failed_before[to] == failed_before[from]) return std::nullopt;
    for (size_t i = from; i < to; ++i)
      if (!samples[i].ok) return samples[i].end_ms;
    return std::nullopt;
  }
};
}  // namespace

std::optional<double> find_recovery(const SeriesSet& series, double end_of_impact, double stable_for) {
  if (series.empty()) return std::nullopt;
  // Candidates: starts of ok samples at or after the end of impact. Failures: [t, end] spans of failed samples.
  std::vector<double> candidates;
  std::vector<std::pair<double, double>> failures;
  std::vector<ProbeIndex> probes;
  double coverage_end = std::numeric_limits<double>::infinity();  // every probe has a sample starting by then
  for (const auto* p : series) {
    if (p->samples.empty()) return std::nullopt;
    probes.emplace_back(*p);
    coverage_end = std::min(coverage_end, p->samples.back().t_ms);
    for (const auto& s : p->samples) {
      if (s.ok && s.t_ms >= end_of_impact) candidates.push_back(s.t_ms);
      if (!s.ok) failures.emplace_back(s.t_ms, s.end_ms);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  std::sort(failures.begin(), failures.end());
  // A candidate c holds when no failure with start <= c + stable_for ends after c, and each probe's first
  // sample from c on is ok. Candidates only move forward, and so does the set of failures starting before
  // c + stable_for: one sweep over both, with a binary search per probe.
  size_t next_failure = 0;
  double latest_failure_end = -std::numeric_limits<double>::infinity();
  auto c = candidates.begin();
  while (c != candidates.end()) {
    while (next_failure < failures.size() && failures[next_failure].first <= *c + stable_for)
      latest_failure_end = std::max(latest_failure_end, failures[next_failure++].second);
    if (latest_failure_end > *c) {
      c = std::lower_bound(c, candidates.end(), latest_failure_end);
      continue;
    }
    std::optional<double> blocked;
    for (const auto& probe : probes)
      if (auto until = probe.blocks(*c, stable_for)) blocked = std::max(blocked.value_or(*until), *until);
    if (blocked) {
      c = std::upper_bound(c, candidates.end(), std::max(*blocked, *c));
      continue;
    }
    if (*c + stable_for > coverage_end) return std::nullopt;  // not observed long enough, nor will later ones be
    return *c;
  }
  return std::nullopt;
}

namespace {

// Overlapping or touching spans merged, in time order.
std::vector<FaultSpan> merged(std::vector<FaultSpan> spans) {
  std::sort(spans.begin(), spans.end(), [](const FaultSpan& a, const FaultSpan& b) { return a.from < b.from; });
  std::vector<FaultSpan> out;
  for (const auto& s : spans) {
    if (s.to <= s.from) continue;
    if (!out.empty() && s.from <= out.back().to) out.back().to = std::max(out.back().to, s.to);
    else out.push_back(s);
  }
  return out;
}

// Whether each probe's latency over the samples that started in [from, to) meets the tolerance's bounds.
bool latency_holds(const SeriesSet& series, const Tolerance& t, double from, double to) {
  auto within = [](const std::optional<double>& value, const std::optional<double>& limit) {
    return !limit || !value || *value <= *limit;
  };
  for (const auto* p : series) {
    auto s = phase_stats({p}, from, to);
    if (!within(s.p50, t.max_p50_ms) || !within(s.p95, t.max_p95_ms) || !within(s.p99, t.max_p99_ms)) return false;
  }
  return true;
}

}  // namespace

std::optional<double> find_heal(const SeriesSet& series, double first_fault, const std::vector<FaultSpan>& under_fault,
                                double stable_for, const Tolerance& latency) {
  for (const auto& span : merged(under_fault)) {
    if (span.to <= first_fault) continue;
    // Only what was seen while this stretch lasted: a sample that started after it ended says nothing about it.
    std::vector<ProbeSeries> seen;
    for (const auto* p : series) {
      ProbeSeries cut;
      cut.name = p->name;
      for (const auto& s : p->samples)
        if (s.t_ms < span.to) cut.samples.push_back(s);
      seen.push_back(std::move(cut));
    }
    SeriesSet view;
    for (const auto& s : seen) view.push_back(&s);
    double from = std::max(span.from, find_impact(view, first_fault, span.to).value_or(first_fault));
    while (auto healed = find_recovery(view, from, stable_for)) {
      if (latency_holds(view, latency, *healed, *healed + stable_for)) return healed;
      from = std::nextafter(*healed, INFINITY);
    }
  }
  return std::nullopt;
}

std::optional<double> guard_trips(const ProbeSeries& series, const GuardRule& rule, double now) {
  size_t total = 0, failures = 0;
  for (auto it = series.samples.rbegin(); it != series.samples.rend(); ++it) {
    if (it->end_ms <= now - rule.window_ms) break;
    if (it->end_ms > now) continue;
    total += it->weight();
    failures += it->failed();
  }
  if (total < rule.min_samples || total == 0) return std::nullopt;
  double ratio = static_cast<double>(failures) / static_cast<double>(total);
  if (ratio > rule.max_failure_ratio) return ratio;
  return std::nullopt;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::passed: return "passed";
    case Verdict::failed: return "failed";
    case Verdict::inconclusive: return "inconclusive";
    case Verdict::aborted: return "aborted";
    case Verdict::error: return "error";
  }
  return "error";
}

int exit_code(Verdict v) {
  switch (v) {
    case Verdict::passed: return 0;
    case Verdict::failed: return 1;
    case Verdict::inconclusive: return 2;
    case Verdict::aborted: return 3;
    case Verdict::error: return 4;
  }
  return 4;
}

Verdict worst(Verdict a, Verdict b) {
  auto rank = [](Verdict v) {
    switch (v) {
      case Verdict::passed: return 0;
      case Verdict::inconclusive: return 1;
      case Verdict::failed: return 2;
      case Verdict::aborted: return 3;
      case Verdict::error: return 4;
    }
    return 4;
  };
  return rank(a) >= rank(b) ? a : b;
}

std::string failure_causes_text(const std::vector<std::string>& reasons, size_t dropped) {
  std::map<std::string, size_t> by_cause;
  for (const auto& r : reasons) ++by_cause[r.empty() ? "no reason given" : r];
  std::vector<std::pair<std::string, size_t>> causes(by_cause.begin(), by_cause.end());
  std::stable_sort(causes.begin(), causes.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [cause, n] : causes) out += fmt::format("{}{} × {}", out.empty() ? "" : ", ", cause, n);
  if (dropped) out += fmt::format("{}and {} more (not kept one by one)", out.empty() ? "" : ", ", dropped);
  return out;
}

}  // namespace rebound
