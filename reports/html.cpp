#include "reports/html.hpp"
#include "reports/json_fields.hpp"

#include "reports/html_timeline.hpp"
#include "reports/journal.hpp"
#include "reports/report_text.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>

namespace rebound {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

using json = nlohmann::json;

using json_fields::num;
using json_fields::str;

std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f} ms", *v) : "–"; }

const char* verdict_color(const std::string& v) {
  if (v == "passed") return "#1a7f37";
  if (v == "failed") return "#cf222e";
  if (v == "inconclusive") return "#9a6700";
  if (v == "aborted") return "#8250df";
  return "#57606a";
}

const char* kStyle = R"(
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; margin: 24px auto;
       max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de;
       padding-bottom: 4px; }
.verdict { display: inline-block; color: #fff; border-radius: 6px; padding: 2px 10px; font-weight: 600;
           text-transform: uppercase; letter-spacing: .04em; }
.meta { color: #57606a; margin: 6px 0 0; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 5px 8px;
       border-bottom: 1px solid #d8dee4; vertical-align: top; } th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.detail { font-size: 12px; color: #555; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; } .unmeasured { color: #57606a; }
td.empty-phase { color: #57606a; font-style: italic; }
ul.reasons li { margin: 2px 0; }
svg { width: 100%; height: auto; border: 1px solid #d0d7de; border-radius: 6px; background: #fff; }
svg text { font: 11px sans-serif; fill: #57606a; } svg .lane-name { font-weight: 600; fill: #1f2328; font-size: 12px; }
svg .fault-label { fill: #cf222e; } svg .recovered-label { fill: #1a7f37; font-weight: 600; }
svg .healed-label { fill: #1f883d; font-weight: 600; }
.legend span { margin-right: 14px; } .swatch { display: inline-block; width: 12px; height: 10px; margin-right: 4px;
       vertical-align: middle; border-radius: 2px; }
footer { color: #57606a; margin-top: 32px; font-size: 12px; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } svg, table { break-inside: avoid; } }
)";

}  // namespace

namespace {

// The document's head, the title, the verdict and where the run came from.
std::string html_header(const json& j) {
  const auto& ex = j["experiment"];
  std::string verdict = str(j, "verdict");
  std::string title = str(ex, "title").empty() ? str(ex, "name") : str(ex, "title");
  std::string out = fmt::format("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}: {}"
                                "</title>\n<style>{}</style>\n</head>\n<body>\n",
                                html_escape(title), html_escape(verdict), kStyle);
  out += fmt::format("<header>\n<h1>{}</h1>\n<p><span id=\"verdict\" class=\"verdict\" style=\"background:{}\">{}</span> "
                     "exit code {} · status {}</p>\n<p class=\"meta\">experiment <code>{}</code> from {} · started {} · "
                     "ran {:.1f} s</p>\n",
                     html_escape(title), verdict_color(verdict), html_escape(verdict), j.value("exit_code", -1),
                     html_escape(str(j, "status")), html_escape(str(ex, "name")), html_escape(str(ex, "file")),
                     html_escape(str(j, "started_at")), num(j, "duration_ms").value_or(0) / 1000);
  if (!str(ex, "description").empty()) out += fmt::format("<p>{}</p>\n", html_escape(str(ex, "description")));
  out += "</header>\n";
  return out;
}

// Why the verdict is what it is, and each criterion against its limit.
std::string html_criteria(const json& j) {
  std::string out;
  if (!j["reasons"].empty()) {
    out += "<h2>Why</h2>\n<ul class=\"reasons\">\n";
    for (const auto& r : j["reasons"]) out += fmt::format("<li>{}</li>\n", html_escape(r.get<std::string>()));
    out += "</ul>\n";
  }
  out += "<h2>Criteria</h2>\n<table id=\"criteria\">\n<tr><th>criterion</th><th>measured</th><th>limit</th><th>result</th>"
         "<th>detail</th></tr>\n";
  for (const auto& c : j["slo"]) {
    bool passed = c.value("passed", false), measured = c.value("measured", true);
    auto value = num(c, "value");
    std::string unit = str(c, "unit");
    const std::string result = criterion_result_text(passed, measured);
    out += fmt::format("<tr class=\"criterion\" data-passed=\"{}\"><td><code>{}</code></td><td class=\"num\">{}</td><td "
                       "class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n",
                       passed, html_escape(str(c, "criterion")),
                       measured ? criterion_value_text(value, unit, value.value_or(0) >= 1, str(c, "criterion")) : "–",
                       criterion_limit_text(num(c, "limit").value_or(0), unit),
                       passed ? "pass" : measured ? "fail" : "unmeasured", result, html_escape(str(c, "detail")));
  }
  out += "</table>\n";
  return out;
}

// "time to heal 1.1 s, under fault · ", or nothing for a journal without it (schema 1, or no fault).
std::string heal_text(const json& m) {
  if (!m.contains("time_to_heal_ms") || !num(m, "first_fault_ms")) return "";
  if (m.value("heal_is_recovery", false))
    return fmt::format("time to heal <b>{}</b> (instant faults: = time to recover) · ",
                       num(m, "time_to_heal_ms") ? ms(num(m, "time_to_heal_ms")) : "did not heal");
  if (auto t = num(m, "time_to_heal_ms")) return fmt::format("time to heal <b>{}</b>, under fault · ", ms(t));
  return fmt::format("time to heal: <b>did not heal under the fault</b> ({:.1f} s) · ",
                     num(m, "under_fault_ms").value_or(0) / 1000);
}

std::string html_timeline(const json& j, const std::vector<ProbeSeries>* live) {
  std::string out;
  const auto& m = j["metrics"];
  out += fmt::format("<h2>Timeline</h2>\n<p class=\"meta\">first fault at {} · end of impact at {} · time to impact {} · "
                     "{}time to recover <b>{}</b></p>\n",
                     ms(num(m, "first_fault_ms")), ms(num(m, "end_of_impact_ms")), ms(num(m, "time_to_impact_ms")),
                     heal_text(m),
                     num(m, "time_to_recover_ms") ? ms(num(m, "time_to_recover_ms"))
                                                  : (num(m, "end_of_impact_ms") ? not_recovered_text(str(j, "status"))
                                                                                : "–"));
  out += "<p class=\"legend\"><span><i class=\"swatch\" style=\"background:#0969da\"></i>latency of ok samples</span>"
         "<span><i class=\"swatch\" style=\"background:#cf222e\"></i>failed sample / fault</span>"
         "<span><i class=\"swatch\" style=\"background:#1a7f37\"></i>recovered</span>"
         "<span><i class=\"swatch\" style=\"background:#1f883d\"></i>healed under fault (dotted)</span>"
         "<span><i class=\"swatch\" style=\"background:#bc4c00;opacity:.3\"></i>degraded</span>"
         "<span><i class=\"swatch\" style=\"background:#57606a\"></i>recover_within deadline (dashed)</span>"
         "<span><i class=\"swatch\" style=\"background:#ddf4ff\"></i>baseline</span>"
         "<span><i class=\"swatch\" style=\"background:#fbefff\"></i>recovery</span>"
         "<span><i class=\"swatch\" style=\"background:#dafbe1\"></i>after</span></p>\n";
  out += timeline_svg(j, live);
  return out;
}

// The shortest interval among the probes the steady state watches, from the journal's experiment.
double steady_interval_ms(const json& ex) {
  double out = 0;
  if (!ex.contains("probes") || !ex["probes"].is_array()) return 0;
  const json steady = ex.contains("steady_state") ? ex["steady_state"].value("probes", json::array()) : json::array();
  for (const auto& p : ex["probes"]) {
    bool watched = steady.empty();
    for (const auto& name : steady) watched = watched || (name.is_string() && name.get<std::string>() == str(p, "name"));
    auto interval = num(p, "interval_ms");
    if (watched && interval && (out == 0 || *interval < out)) out = *interval;
  }
  return out;
}

// The column head: "requests" when every counted sample of every phase is a load probe's request.
bool phases_count_requests(const json& phases) {
  bool any = false;
  for (const auto& [name, s] : phases.items()) {
    const double samples = s.value("samples", 0.0), requests = s.value("requests", 0.0);
    if (samples > 0 && requests < samples) return false;
    any = any || samples > 0;
  }
  return any;
}

// The samples, failures and percentiles of each phase of the analysis; an empty phase says why it is empty.
std::string html_phases(const json& j) {
  const auto& m = j["metrics"];
  std::string out;
  if (!m.contains("phases") || !m["phases"].is_object()) return out;
  const auto& phases = m["phases"];
  out += fmt::format("<h2>Phases</h2>\n<table id=\"phases\">\n<tr><th>phase</th><th>{}</th><th>failed</th>"
                     "<th>error ratio</th><th>p50</th><th>p95</th><th>p99</th></tr>\n",
                     phase_count_head(phases_count_requests(phases)));
  for (const char* name : {"baseline", "fault", "degraded", "healed", "recovery", "after", "impact"}) {
    if (!phases.contains(name)) continue;
    const auto& s = phases[name];
    auto from = num(s, "from_ms"), to = num(s, "to_ms");
    if (s.value("samples", 0) == 0 && from && to) {
      out += fmt::format("<tr class=\"empty-phase\"><td>{}</td><td class=\"empty-phase\" colspan=\"6\">{}</td></tr>\n",
                         name, html_escape(empty_phase_text(*to - *from, steady_interval_ms(j["experiment"]))));
      continue;
    }
    out += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2f}%</td>"
                       "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                       name, s.value("samples", 0), s.value("failures", 0), s.value("error_ratio", 0.0) * 100,
                       ms(num(s, "p50_ms")), ms(num(s, "p95_ms")), ms(num(s, "p99_ms")));
  }
  out += "</table>\n";
  return out;
}

// Each load probe's failed requests: how many by cause, and the first ones one by one.
std::string html_failed_requests(const json& j) {
  std::string out;
  const std::string started = str(j, "started_at");
  for (const auto& p : j["probes"]) {
    if (!p.contains("failed_requests") || !p["failed_requests"].is_array() || p["failed_requests"].empty()) continue;
    const auto& failed = p["failed_requests"];
    const size_t dropped = p.value("failed_requests_dropped", size_t{0});
    std::vector<std::string> reasons;
    for (const auto& s : failed) reasons.push_back(str(s, "reason"));
    out += fmt::format("<h2>Failed requests of {}</h2>\n<p class=\"meta\">{} failed: {}</p>\n<table class=\"failed-requests\">"
                       "<tr><th>sent at</th><th>latency</th><th>cause</th></tr>\n",
                       html_escape(str(p, "name")), failed.size() + dropped,
                       html_escape(failure_causes_text(reasons, dropped)));
    for (size_t i = 0; i < std::min(failed.size(), kFailedRequestsListed); ++i)
      out += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                         html_escape(offset_and_clock(started, num(failed[i], "t_ms"))), ms(num(failed[i], "latency_ms")),
                         html_escape(str(failed[i], "reason")));
    out += "</table>\n";
    if (failed.size() > kFailedRequestsListed)
      out += fmt::format("<p class=\"note\">{} more in the journal's <code>failed_requests</code>.</p>\n",
                         failed.size() - kFailedRequestsListed);
  }
  return out;
}

std::string html_steps(const json& j) {
  std::string out;
  if (j["steps"].empty()) return out;
  const std::string started = str(j, "started_at");
  out += "<h2>Steps</h2>\n<table id=\"steps\">\n<tr><th>step</th><th>type</th><th>target</th><th>applied</th>"
         "<th>ended</th><th>status</th><th>what it did</th></tr>\n";
  for (const auto& s : j["steps"]) {
    auto applied = num(s, "applied_ms"), reverted = num(s, "reverted_ms");
    std::optional<double> held;
    if (applied && reverted) held = *reverted - *applied;
    const std::string effect = s.contains("effect") && s["effect"].is_string() ? s["effect"].get<std::string>() : "";
    out += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td "
                       "class=\"num\">{}</td><td>{}{}</td><td class=\"detail\">{}</td></tr>\n",
                       html_escape(str(s, "name")), html_escape(str(s, "type")), html_escape(str(s, "target")),
                       offset_and_clock(started, applied), offset_and_clock(started, num(s, "ended_ms")),
                       html_escape(str(s, "status")), str(s, "error").empty() ? "" : ": " + html_escape(str(s, "error")),
                       html_escape(step_what_it_did(effect, s.value("detail", json::object()), held)));
  }
  out += "</table>\n";
  return out;
}

// The guards as declared, whether each tripped, and the trips; "No guard tripped." when none did.
std::string html_guards(const json& j) {
  const json guards = j["experiment"].value("guards", json::array());
  const json events = j.value("guard_events", json::array());
  const std::string started = str(j, "started_at");
  std::string out = "<h2>Guards</h2>\n";
  if (guards.empty() && events.empty())
    return out + "<p id=\"no-guards\">No guards declared: nothing could stop the run early.</p>\n";
  out += "<table id=\"guards\">\n<tr><th>guard</th><th>probe</th><th>trips when</th><th>tripped</th></tr>\n";
  for (const auto& g : guards) {
    std::string tripped = "no";
    for (const auto& e : events)
      if (str(e, "guard") == str(g, "name"))
        tripped = fmt::format("<b class=\"fail\">yes</b>, at {} ({:.0f}% failed)",
                              offset_and_clock(started, num(e, "t_ms")), num(e, "failure_ratio").value_or(0) * 100);
    out += fmt::format("<tr class=\"guard\"><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
                       html_escape(str(g, "name")), html_escape(str(g, "probe")),
                       guard_condition_text(num(g, "max_failure_ratio").value_or(0), num(g, "window_ms").value_or(0),
                                            static_cast<size_t>(num(g, "min_samples").value_or(0))),
                       tripped);
  }
  out += "</table>\n";
  if (events.empty()) return out + "<p id=\"no-guard-tripped\">No guard tripped.</p>\n";
  out += "<ul id=\"guard-events\">\n";
  for (const auto& g : events)
    out += fmt::format("<li><code>{}</code> tripped at {}: probe <code>{}</code> failed {:.0f}% of samples</li>\n",
                       html_escape(str(g, "guard")), offset_and_clock(started, num(g, "t_ms")),
                       html_escape(str(g, "probe")), num(g, "failure_ratio").value_or(0) * 100);
  out += "</ul>\n";
  return out;
}

}  // namespace

std::string make_html(const nlohmann::json& j, const std::vector<ProbeSeries>* live) {
  std::string out = html_header(j);
  out += html_criteria(j);
  out += html_timeline(j, live);
  out += html_phases(j);
  out += html_failed_requests(j);
  out += html_steps(j);
  out += html_guards(j);
  out += fmt::format("<footer>rebound {} · journal schema {}</footer>\n</body>\n</html>\n",
                     html_escape(str(j, "rebound_version")), j.value("schema_version", 0));
  return out;
}

}  // namespace rebound
