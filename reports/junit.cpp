#include "reports/junit.hpp"

#include <fmt/format.h>

namespace rebound {

std::string xml_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') out += fmt::format("&#x{:x};", c);  // never valid XML raw
        else out += static_cast<char>(c);
    }
  }
  return out;
}

static std::string value_text(const Criterion& c) {
  if (!c.value) return "none";
  if (c.unit == "ms") return fmt::format("{:.1f} ms", *c.value);
  if (c.unit == "ratio") return fmt::format("{:.4f}", *c.value);
  return *c.value >= 1 ? "pass" : "fail";
}

static std::string limit_text(const Criterion& c) { return rebound::limit_text(c.limit, c.unit); }

namespace {

// A phase of the analysis in one line: "12 samples, 5 failed (41.67%), p99 30.1 ms" ("requests" for a load probe's).
std::string phase_text(const PhaseStats& s) {
  return fmt::format("{} {}, {} failed ({:.2f}%), p99 {}", s.samples, counted(s), s.failures, s.error_ratio * 100,
                     s.p99 ? fmt::format("{:.1f} ms", *s.p99) : "-");
}

// Time to heal and the phases around it, as properties of the run's test suite.
std::string heal_properties(const RunResult& r) {
  const auto& m = r.metrics;
  std::string out;
  auto property = [&](const std::string& name, const std::string& value) {
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xml_escape(name), xml_escape(value));
  };
  if (m.time_to_recover_ms) property("time_to_recover_ms", fmt::format("{:.1f}", *m.time_to_recover_ms));
  if (m.time_to_heal_ms) property("time_to_heal_ms", fmt::format("{:.1f}", *m.time_to_heal_ms));
  if (m.first_fault_ms && !m.heal_is_recovery)
    property("healed_under_fault", m.time_to_heal_ms ? "yes" : "no");
  for (const char* name : {"degraded", "healed"})
    if (auto it = m.phases.find(name); it != m.phases.end()) property(std::string("phase.") + name, phase_text(it->second));
  // A load probe's requests per phase: "load.users.impact" = "3012 requests, 131 failed (4.35%), p99 401.2 ms".
  for (const auto& [probe, phases] : m.load_phases)
    for (const auto& [name, stats] : phases)
      property(fmt::format("load.{}.{}", probe, name),
               fmt::format("{}, p50 {}", phase_text(stats), stats.p50 ? fmt::format("{:.1f} ms", *stats.p50) : "-"));
  return out;
}

// What a heal_within test case says beyond its criterion: the degraded and healed phases.
std::string heal_case_output(const RunResult& r) {
  std::string out;
  for (const char* name : {"degraded", "healed"})
    if (auto it = r.metrics.phases.find(name); it != r.metrics.phases.end())
      out += fmt::format("\nphase {}: {}", name, phase_text(it->second));
  return out;
}

struct CaseCounts {
  size_t tests = 0, failures = 0, errors = 0;
};

// The test cases of one run: the run itself when it did not end in a verdict on its criteria, then one per
// criterion.
std::string run_cases(const RunResult& r, const std::string& classname, double seconds, CaseCounts& n) {
  std::string cases;
  if (r.verdict == Verdict::error || r.verdict == Verdict::aborted || r.verdict == Verdict::inconclusive) {
    ++n.tests;
    std::string reasons = fmt::format("{}", fmt::join(r.reasons, "\n"));
    const char* tag = r.verdict == Verdict::error ? "error" : "failure";
    (r.verdict == Verdict::error ? n.errors : n.failures)++;
    cases += fmt::format("    <testcase classname=\"{}\" name=\"run\" time=\"{:.3f}\">\n"
                         "      <{} type=\"{}\" message=\"verdict {}\">{}</{}>\n"
                         "    </testcase>\n",
                         classname, seconds, tag, to_string(r.verdict), to_string(r.verdict), xml_escape(reasons), tag);
  }
  for (const auto& c : r.criteria) {
    ++n.tests;
    cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"0\">\n", classname, xml_escape(c.name));
    if (!c.measured) {
      cases += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(c.detail));
    } else if (!c.passed) {
      ++n.failures;
      cases += fmt::format("      <failure type=\"{}\" message=\"{}\">measured: {}\nlimit: {}\n{}</failure>\n",
                           xml_escape(c.name), xml_escape(fmt::format("measured {}, limit {}", value_text(c), limit_text(c))),
                           xml_escape(value_text(c)), xml_escape(limit_text(c)), xml_escape(c.detail));
    }
    std::string output = c.detail + (c.name == "heal_within" ? heal_case_output(r) : "");
    cases += fmt::format("      <system-out>{}</system-out>\n    </testcase>\n", xml_escape(output));
  }
  return cases;
}

}  // namespace

std::string make_junit(const std::vector<JunitEntry>& entries) {
  std::string suites;
  size_t total_tests = 0, total_failures = 0, total_errors = 0;
  double total_time = 0;
  for (const auto& e : entries) {
    std::string cases;
    CaseCounts n;
    double seconds = e.result ? e.result->duration_ms / 1000 : 0;
    const std::string classname = xml_escape("rebound." + e.experiment);
    if (!e.result) {
      ++n.tests;
      ++n.errors;
      cases += fmt::format("    <testcase classname=\"{}\" name=\"validate\" time=\"0\">\n"
                           "      <error type=\"invalid\" message=\"experiment file is invalid\">{}</error>\n"
                           "    </testcase>\n",
                           classname, xml_escape(e.error));
    } else {
      cases += run_cases(*e.result, classname, seconds, n);
    }
    suites += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\" "
                          "timestamp=\"{}\" file=\"{}\">\n",
                          xml_escape(e.experiment), n.tests, n.failures, n.errors, seconds,
                          e.result ? xml_escape(e.result->started_at) : "", xml_escape(e.file));
    if (e.result) {
      suites += fmt::format("    <properties>\n      <property name=\"verdict\" value=\"{}\"/>\n"
                            "      <property name=\"status\" value=\"{}\"/>\n{}",
                            to_string(e.result->verdict), xml_escape(e.result->status), heal_properties(*e.result));
      for (const auto& s : e.result->steps)  // each step's effect in one line
        if (s.effect)
          suites += fmt::format("      <property name=\"step.{}.effect\" value=\"{}\"/>\n", xml_escape(s.name),
                                xml_escape(s.effect->summary));
      suites += "    </properties>\n";
    }
    suites += cases + "  </testsuite>\n";
    total_tests += n.tests;
    total_failures += n.failures;
    total_errors += n.errors;
    total_time += seconds;
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<testsuites name=\"rebound\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3f}\">\n{}"
                     "</testsuites>\n",
                     total_tests, total_failures, total_errors, total_time, suites);
}

}  // namespace rebound
