#include "reports/markdown.hpp"

#include "experiments/verdict.hpp"
#include "reports/journal.hpp"
#include "reports/report_text.hpp"

#include <fmt/format.h>

namespace rebound {

namespace {

// Table cells and headings carry user text: keep it from breaking the table or becoming markup.
std::string md(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '<' || c == '>' || c == '*' || c == '_' || c == '`' || c == '[' || c == ']') out += '\\';
    if (c == '\n') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f} ms", *v) : "–"; }

// Per load probe, every request of it in each phase: what its users saw.
std::string load_phase_tables(const RunMetrics& m) {
  std::string out;
  for (const auto& [probe, phases] : m.load_phases) {
    out += fmt::format("\n## Load probe {}: every request\n\n| phase | requests | failed | error ratio | p50 | p95 | p99 "
                       "|\n|---|---|---|---|---|---|---|\n",
                       probe);
    for (const char* name : {"baseline", "fault", "degraded", "healed", "recovery", "after", "impact"}) {
      auto it = phases.find(name);
      if (it == phases.end()) continue;
      const auto& s = it->second;
      out += fmt::format("| {} | {} | {} | {:.2f}% | {} | {} | {} |\n", name, s.samples, s.failures,
                         s.error_ratio * 100, ms(s.p50), ms(s.p95), ms(s.p99));
    }
  }
  return out;
}

// Each load probe's failed requests: how many by cause, when, and the first ones one by one.
std::string failed_request_lists(const RunResult& r) {
  std::string out;
  for (const auto& p : r.probes) {
    if (p.failed_requests.empty()) continue;
    std::vector<std::string> reasons;
    double first = p.failed_requests.front().t_ms, last = p.failed_requests.front().end_ms;
    for (const auto& s : p.failed_requests) {
      reasons.push_back(s.reason);
      first = std::min(first, s.t_ms);
      last = std::max(last, s.end_ms);
    }
    out += fmt::format("\n### Failed requests of {}\n\n- {} failed: {}\n- the first sent at {}, the last ended at {}\n\n"
                       "| sent at | latency | cause |\n|---|---|---|\n",
                       md(p.name), p.failed_requests.size() + p.failed_requests_dropped,
                       md(failure_causes_text(reasons, p.failed_requests_dropped)),
                       offset_and_clock(r.started_at, first), offset_and_clock(r.started_at, last));
    for (size_t i = 0; i < std::min(p.failed_requests.size(), kFailedRequestsListed); ++i) {
      const auto& s = p.failed_requests[i];
      out += fmt::format("| {} | {:.1f} ms | {} |\n", offset_and_clock(r.started_at, s.t_ms), s.latency_ms, md(s.reason));
    }
    if (p.failed_requests.size() > kFailedRequestsListed)
      out += fmt::format("\n({} more in the journal's `failed_requests`.)\n", p.failed_requests.size() - kFailedRequestsListed);
  }
  return out;
}

const char* icon(Verdict v) {
  switch (v) {
    case Verdict::passed: return "✅";
    case Verdict::failed: return "❌";
    case Verdict::inconclusive: return "⚠️";
    case Verdict::aborted: return "🛑";
    case Verdict::error: return "💥";
  }
  return "";
}

// The shortest interval among the probes the steady state watches (what a phase needs to hold a sample).
double steady_interval_ms(const Experiment& ex) {
  double out = 0;
  for (const auto& p : ex.probes)
    if (is_steady(ex, p.name) && (out == 0 || static_cast<double>(p.interval.count()) < out))
      out = static_cast<double>(p.interval.count());
  return out;
}

std::string phase_table_rows(const Experiment& ex, const RunMetrics& m, bool all_requests) {
  std::string out = fmt::format("\n## Phases\n\n| phase | {} | failed | error ratio | p50 | p95 | p99 |\n"
                                "|---|---|---|---|---|---|---|\n",
                                phase_count_head(all_requests));
  for (const char* name : {"baseline", "fault", "degraded", "healed", "recovery", "after", "impact"}) {
    auto it = m.phases.find(name);
    if (it == m.phases.end()) continue;
    const auto& s = it->second;
    auto span = m.phase_spans.find(name);
    if (s.samples == 0 && span != m.phase_spans.end())
      out += fmt::format("| {} | 0: {} | – | – | – | – | – |\n", name,
                         empty_phase_text(span->second.second - span->second.first, steady_interval_ms(ex)));
    else
      out += fmt::format("| {} | {} | {} | {:.2f}% | {} | {} | {} |\n", name, s.samples, s.failures,
                         s.error_ratio * 100, ms(s.p50), ms(s.p95), ms(s.p99));
  }
  return out;
}

// The guards as declared, whether each tripped, and when.
std::string guard_section(const Experiment& ex, const RunResult& r) {
  std::string out = "\n## Guards\n\n";
  if (ex.guards.empty()) return out + "No guards declared: nothing could stop the run early.\n";
  out += "| guard | probe | trips when | tripped |\n|---|---|---|---|\n";
  for (const auto& g : ex.guards) {
    std::string tripped = "no";
    for (const auto& e : r.guard_events)
      if (e.guard == g.name)
        tripped = fmt::format("**yes**, at {} ({:.0f}% failed)", offset_and_clock(r.started_at, e.t_ms),
                              e.failure_ratio * 100);
    out += fmt::format("| {} | {} | {} | {} |\n", md(g.name), md(g.probe),
                       guard_condition_text(g.rule.max_failure_ratio, g.rule.window_ms, g.rule.min_samples), tripped);
  }
  if (r.guard_events.empty()) out += "\nNo guard tripped.\n";
  return out;
}

// How long a lasting step held its fault (applied to reverted).
std::optional<double> held_ms(const StepRecord& s) {
  if (s.applied_ms && s.reverted_ms) return *s.reverted_ms - *s.applied_ms;
  return std::nullopt;
}

// Time to heal, for the experiment and each lasting step.
std::string heal_lines(const RunMetrics& m) {
  if (!m.first_fault_ms) return "";
  std::string out;
  if (m.heal_is_recovery)
    out += fmt::format("- time to heal: {} (the faults were instant: time to heal is time to recover)\n",
                       m.time_to_heal_ms ? ms(m.time_to_heal_ms) : "did not heal");
  else
    out += fmt::format("- time to heal: {}\n", m.time_to_heal_ms
                                                  ? ms(m.time_to_heal_ms) + ", under fault"
                                                  : fmt::format("did not heal under the fault (it lasted {:.1f} s)",
                                                                m.under_fault_ms.value_or(0) / 1000));
  for (const auto& h : m.step_heals)
    out += fmt::format("  - step `{}`: {}\n", md(h.step),
                       h.time_to_heal_ms ? fmt::format("healed {} after it was applied, under fault", ms(h.time_to_heal_ms))
                                         : fmt::format("did not heal in the {:.1f} s it was applied",
                                                       (h.reverted_ms - h.applied_ms) / 1000));
  return out;
}

// The phases of the analysis over the steady probes; one with no sample says why instead of showing zeros.
std::string phase_table(const Experiment& ex, const RunMetrics& m) {
  bool all_requests = false;
  for (const auto& [name, s] : m.phases) {
    if (s.samples > 0 && s.requests < s.samples) return phase_table_rows(ex, m, false);
    if (s.samples > 0) all_requests = true;
  }
  return phase_table_rows(ex, m, all_requests);
}

}  // namespace

std::string make_markdown(const Experiment& ex, const RunResult& r) {
  std::string out = fmt::format("# {} {}: {}\n\n", icon(r.verdict), md(ex.title), to_string(r.verdict));
  out += fmt::format("- experiment: `{}` ({})\n- status: {}, exit code {}\n- started {} · ran {:.1f} s\n", ex.name,
                     md(ex.file), r.status, exit_code(r.verdict), r.started_at, r.duration_ms / 1000);
  if (!ex.description.empty()) out += fmt::format("\n{}\n", md(ex.description));
  if (!r.reasons.empty()) {
    out += "\n## Why\n\n";
    for (const auto& reason : r.reasons) out += fmt::format("- {}\n", md(reason));
  }
  if (!r.criteria.empty()) {
    out += "\n## Criteria\n\n| criterion | measured | limit | result |\n|---|---|---|---|\n";
    for (const auto& c : r.criteria)
      out += fmt::format("| {} | {} | {} | {} |\n", c.name,
                         c.measured ? criterion_value_text(c.value, c.unit, c.passed, c.name) : md(c.detail),
                         criterion_limit_text(c.limit, c.unit),
                         c.passed ? "pass" : c.measured ? "**FAIL**" : "–");
  }
  const auto& m = r.metrics;
  out += "\n## Recovery\n\n";
  out += fmt::format("- first fault at {}, end of impact at {}\n", ms(m.first_fault_ms), ms(m.end_of_impact_ms));
  out += fmt::format("- time to impact: {}\n- time to recover: {}\n", ms(m.time_to_impact_ms),
                     m.time_to_recover_ms ? ms(m.time_to_recover_ms)
                                          : (m.end_of_impact_ms ? not_recovered_text(r.status) : "–"));
  out += heal_lines(m);
  if (!m.phases.empty()) out += phase_table(ex, m);
  out += load_phase_tables(m);
  out += failed_request_lists(r);
  if (!r.steps.empty()) {
    out += "\n## Steps\n\n| step | type | target | applied at | ended at | status | what it did |\n"
           "|---|---|---|---|---|---|---|\n";
    for (const auto& s : r.steps)
      out += fmt::format("| {} | {} | {} | {} | {} | {}{} | {} |\n", md(s.name), s.type, md(s.target),
                         offset_and_clock(r.started_at, s.applied_ms), offset_and_clock(r.started_at, s.ended_ms),
                         to_string(s.status), s.error.empty() ? "" : ": " + md(s.error),
                         md(step_what_it_did(s.effect ? s.effect->summary : "", s.detail, held_ms(s))));
  }
  out += guard_section(ex, r);
  if (!r.guard_events.empty()) {
    out += "\n### Guard events\n\n";
    for (const auto& g : r.guard_events)
      out += fmt::format("- `{}` tripped at {} (probe `{}` failure ratio {:.0f}%)\n", md(g.guard),
                         offset_and_clock(r.started_at, g.t_ms), md(g.probe), g.failure_ratio * 100);
  }
  return out;
}

}  // namespace rebound
