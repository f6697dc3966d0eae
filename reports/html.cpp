#include "reports/html.hpp"

#include "reports/journal.hpp"

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

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::optional<double> num(const json& j, const char* key) {
  if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f} ms", *v) : "–"; }

const char* verdict_color(const std::string& v) {
  if (v == "passed") return "#1a7f37";
  if (v == "failed") return "#cf222e";
  if (v == "inconclusive") return "#9a6700";
  if (v == "aborted") return "#8250df";
  return "#57606a";
}

// Where the timeline draws: its size, the plot's edges and the time scale.
struct Frame {
  const double width = 1000, left = 150, right = 20, lane_height = 90, top = 34;
  double end_ms = 1, plot_w = 0, height = 0, plot_bottom = 0;
  explicit Frame(const json& j) {
    end_ms = std::max(1.0, num(j, "duration_ms").value_or(1));
    plot_w = width - left - right;
    height = top + lane_height * std::max<size_t>(1, j["probes"].size()) + 56;
    plot_bottom = height - 56;  // below: fault and recovery labels, then the time axis
  }
  double x(double t) const { return left + std::clamp(t / end_ms, 0.0, 1.0) * plot_w; }
};

// Phases as labelled bands.
std::string timeline_phases(const json& j, const Frame& f) {
  static const std::pair<const char*, const char*> phase_colors[] = {
      {"setup", "#f6f8fa"}, {"baseline", "#ddf4ff"}, {"method", "#fff8c5"}, {"recovery", "#fbefff"},
      {"after", "#dafbe1"}, {"teardown", "#f6f8fa"}, {"rollbacks", "#fff1e5"}, {"preflight", "#f6f8fa"}};
  std::string svg;
  for (const auto& p : j["phases"]) {
    std::string name = str(p, "name");
    double a = num(p, "start_ms").value_or(0), b = num(p, "end_ms").value_or(0);
    if (b - a <= 0) continue;
    const char* color = "#f6f8fa";
    for (auto [n, c] : phase_colors)
      if (name == n) color = c;
    svg += fmt::format("<rect class=\"phase\" data-phase=\"{}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                       "fill=\"{}\"/>\n",
                       html_escape(name), f.x(a), f.top, std::max(0.5, f.x(b) - f.x(a)), f.plot_bottom - f.top, color);
    if (f.x(b) - f.x(a) > 40)
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"phase-label\">{}</text>\n", f.x(a) + 3, f.top - 6,
                         html_escape(name));
  }
  return svg;
}

// Fault windows, or a line for a fault without a duration.
std::string timeline_faults(const json& j, const Frame& f) {
  std::string svg;
  for (const auto& s : j["steps"]) {
    if (str(s, "kind") != "fault") continue;
    auto applied = num(s, "applied_ms");
    if (!applied) continue;
    double until = num(s, "reverted_ms").value_or(*applied);
    std::string label = html_escape(str(s, "name") + " (" + str(s, "type") + ")");
    if (until - *applied > 0.5) {
      svg += fmt::format("<rect class=\"fault\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                         "fill=\"#cf222e\" fill-opacity=\"0.12\" stroke=\"#cf222e\" stroke-opacity=\"0.4\"><title>{}"
                         "</title></rect>\n",
                         f.x(*applied), f.top, std::max(1.0, f.x(until) - f.x(*applied)), f.plot_bottom - f.top, label);
    } else {
      svg += fmt::format("<line class=\"fault\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2:.1f}\" stroke=\"#cf222e\" "
                         "stroke-width=\"2\"><title>{3}</title></line>\n",
                         f.x(*applied), f.top, f.plot_bottom, label);
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"fault-label\">{}</text>\n", f.x(*applied) + 3,
                       f.plot_bottom + 14, label);
  }
  return svg;
}

// Recovery and its deadline.
std::string timeline_recovery(const json& j, const Frame& f) {
  std::string svg;
  const auto& m = j["metrics"];
  auto eoi = num(m, "end_of_impact_ms");
  if (auto recovered = num(m, "recovered_at_ms")) {
    svg += fmt::format("<line id=\"recovered\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2:.1f}\" stroke=\"#1a7f37\" "
                       "stroke-width=\"2\"/><text x=\"{0:.1f}\" y=\"{3:.1f}\" class=\"recovered-label\">recovered "
                       "+{4:.0f} ms</text>\n",
                       f.x(*recovered), f.top, f.plot_bottom, f.plot_bottom + 28, num(m, "time_to_recover_ms").value_or(0));
  }
  if (eoi) {
    for (const auto& c : j["slo"])
      if (str(c, "criterion") == "recover_within") {
        double deadline = *eoi + num(c, "limit").value_or(0);
        svg += fmt::format("<line id=\"deadline\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2:.1f}\" "
                           "stroke=\"#57606a\" stroke-dasharray=\"5 4\" stroke-width=\"1.5\"/><text x=\"{0:.1f}\" "
                           "y=\"{1}\" class=\"deadline-label\" text-anchor=\"end\">recover_within</text>\n",
                           f.x(deadline), f.top + 12, f.plot_bottom);
      }
  }
  return svg;
}

// The samples of one probe as polylines (a gap where it failed) and red ticks for failed samples.
std::string lane_samples(const json& p, const Frame& f, double lane_bottom, const std::function<double(double)>& y) {
  std::string svg, points;
  auto flush = [&] {
    if (!points.empty())
      svg += fmt::format("<polyline class=\"latency\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.2\" "
                         "points=\"{}\"/>\n",
                         points);
    points.clear();
  };
  size_t stride = std::max<size_t>(1, p["samples"].size() / 2000);  // keep the file small for long runs
  size_t n = 0;
  for (const auto& s : p["samples"]) {
    double t = s.value("t_ms", 0.0);
    if (!s.value("ok", false)) {
      flush();
      svg += fmt::format("<line class=\"failed-sample\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" "
                         "stroke=\"#cf222e\" stroke-width=\"1\"><title>{3:.1f} ms: {4}</title></line>\n",
                         f.x(t), lane_bottom - 10, lane_bottom + 4, t, html_escape(s.value("reason", "")));
      continue;
    }
    if (n++ % stride) continue;
    points += fmt::format("{:.1f},{:.1f} ", f.x(t), y(s.value("latency_ms", 0.0)));
  }
  flush();
  return svg;
}

// One lane per probe: its name, its latency scale and its samples.
std::string probe_lane(const json& p, size_t i, const Frame& f) {
  double lane_top = f.top + f.lane_height * static_cast<double>(i) + 8;
  double lane_bottom = lane_top + f.lane_height - 20;
  std::vector<double> latencies;
  for (const auto& s : p["samples"])
    if (s.value("ok", false)) latencies.push_back(s.value("latency_ms", 0.0));
  std::sort(latencies.begin(), latencies.end());
  double scale = latencies.empty() ? 1.0 : std::max(1.0, latencies[latencies.size() * 99 / 100] * 1.2);
  auto y = [&](double latency) { return lane_bottom - std::min(latency / scale, 1.0) * (lane_bottom - lane_top); };
  std::string svg = fmt::format("<g class=\"probe-lane\" data-probe=\"{}\">\n", html_escape(str(p, "name")));
  svg += fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"lane-name\">{}</text><text x=\"8\" y=\"{:.1f}\" "
                     "class=\"lane-scale\">latency, 0–{:.1f} ms</text>\n",
                     lane_top + 14, html_escape(str(p, "name")), lane_top + 30, scale);
  svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#d0d7de\"/>\n", f.left,
                     f.width - f.right, lane_bottom, lane_bottom);
  svg += lane_samples(p, f, lane_bottom, y);
  svg += "</g>\n";
  return svg;
}

std::string time_axis(const Frame& f) {
  std::string svg;
  double step = std::pow(10, std::floor(std::log10(f.end_ms / 5)));
  if (f.end_ms / step > 10) step *= 2;
  for (double t = 0; t <= f.end_ms; t += step)
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"middle\">{:g}s</text>\n", f.x(t),
                       f.height - 4, t / 1000);
  return svg;
}

// The timeline: one lane per probe (latency as a line, failed samples as red ticks), fault windows shaded,
// phases marked, the moment of recovery and the recover_within deadline drawn.
std::string timeline_svg(const json& j) {
  const Frame f(j);
  std::string svg = fmt::format(
      "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" role=\"img\" "
      "aria-label=\"probe timeline\">\n",
      f.width, f.height);
  svg += timeline_phases(j, f);
  svg += timeline_faults(j, f);
  svg += timeline_recovery(j, f);
  const auto& probes = j["probes"];
  for (size_t i = 0; i < probes.size(); ++i) svg += probe_lane(probes[i], i, f);
  svg += time_axis(f);
  svg += "</svg>\n";
  return svg;
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
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; }
ul.reasons li { margin: 2px 0; }
svg { width: 100%; height: auto; border: 1px solid #d0d7de; border-radius: 6px; background: #fff; }
svg text { font: 11px sans-serif; fill: #57606a; } svg .lane-name { font-weight: 600; fill: #1f2328; font-size: 12px; }
svg .fault-label { fill: #cf222e; } svg .recovered-label { fill: #1a7f37; font-weight: 600; }
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
    bool passed = c.value("passed", false);
    auto value = num(c, "value");
    std::string unit = str(c, "unit");
    out += fmt::format("<tr class=\"criterion\" data-passed=\"{}\"><td><code>{}</code></td><td class=\"num\">{}</td><td "
                       "class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>\n",
                       passed, html_escape(str(c, "criterion")), criterion_value_text(value, unit, value.value_or(0) >= 1),
                       criterion_limit_text(num(c, "limit").value_or(0), unit), passed ? "pass" : "fail",
                       passed ? "pass" : "FAIL", html_escape(str(c, "detail")));
  }
  out += "</table>\n";
  return out;
}

std::string html_timeline(const json& j) {
  std::string out;
  const auto& m = j["metrics"];
  out += fmt::format("<h2>Timeline</h2>\n<p class=\"meta\">first fault at {} · end of impact at {} · time to impact {} · "
                     "time to recover <b>{}</b></p>\n",
                     ms(num(m, "first_fault_ms")), ms(num(m, "end_of_impact_ms")), ms(num(m, "time_to_impact_ms")),
                     num(m, "time_to_recover_ms") ? ms(num(m, "time_to_recover_ms"))
                                                  : (num(m, "end_of_impact_ms") ? "did not recover" : "–"));
  out += "<p class=\"legend\"><span><i class=\"swatch\" style=\"background:#0969da\"></i>latency of ok samples</span>"
         "<span><i class=\"swatch\" style=\"background:#cf222e\"></i>failed sample / fault</span>"
         "<span><i class=\"swatch\" style=\"background:#1a7f37\"></i>recovered</span>"
         "<span><i class=\"swatch\" style=\"background:#57606a\"></i>recover_within deadline (dashed)</span>"
         "<span><i class=\"swatch\" style=\"background:#ddf4ff\"></i>baseline</span>"
         "<span><i class=\"swatch\" style=\"background:#fbefff\"></i>recovery</span>"
         "<span><i class=\"swatch\" style=\"background:#dafbe1\"></i>after</span></p>\n";
  out += timeline_svg(j);
  return out;
}

// The samples, failures and percentiles of each phase of the analysis.
std::string html_phases(const json& j) {
  const auto& m = j["metrics"];
  std::string out;
  out += "<h2>Phases</h2>\n<table id=\"phases\">\n<tr><th>phase</th><th>samples</th><th>failed</th><th>error ratio</th>"
         "<th>p50</th><th>p95</th><th>p99</th></tr>\n";
  for (const char* name : {"baseline", "fault", "recovery", "after", "impact"}) {
    if (!m.contains("phases") || !m["phases"].contains(name)) continue;
    const auto& s = m["phases"][name];
    out += fmt::format("<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2f}%</td>"
                       "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                       name, s.value("samples", 0), s.value("failures", 0), s.value("error_ratio", 0.0) * 100,
                       ms(num(s, "p50_ms")), ms(num(s, "p95_ms")), ms(num(s, "p99_ms")));
  }
  out += "</table>\n";
  return out;
}

std::string html_steps_and_guards(const json& j) {
  std::string out;
  if (!j["steps"].empty()) {
    out += "<h2>Steps</h2>\n<table id=\"steps\">\n<tr><th>step</th><th>type</th><th>target</th><th>applied</th>"
           "<th>ended</th><th>status</th><th>what it did</th></tr>\n";
    for (const auto& s : j["steps"])
      out += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td "
                         "class=\"num\">{}</td><td>{}{}</td><td class=\"detail\">{}</td></tr>\n",
                         html_escape(str(s, "name")), html_escape(str(s, "type")), html_escape(str(s, "target")),
                         ms(num(s, "applied_ms")), ms(num(s, "ended_ms")), html_escape(str(s, "status")),
                         str(s, "error").empty() ? "" : ": " + html_escape(str(s, "error")),
                         html_escape(step_what_it_did(s.value("effect", nlohmann::json()).is_string()
                                                          ? s["effect"].get<std::string>() : "",
                                                      s.value("detail", nlohmann::json::object()))));
    out += "</table>\n";
  }
  if (!j["guard_events"].empty()) {
    out += "<h2>Guard events</h2>\n<ul>\n";
    for (const auto& g : j["guard_events"])
      out += fmt::format("<li><code>{}</code> tripped at {:.1f} ms: probe <code>{}</code> failed {:.0f}% of samples</li>\n",
                         html_escape(str(g, "guard")), num(g, "t_ms").value_or(0), html_escape(str(g, "probe")),
                         num(g, "failure_ratio").value_or(0) * 100);
    out += "</ul>\n";
  }
  return out;
}

}  // namespace

std::string make_html(const nlohmann::json& j) {
  std::string out = html_header(j);
  out += html_criteria(j);
  out += html_timeline(j);
  out += html_phases(j);
  out += html_steps_and_guards(j);
  out += fmt::format("<footer>rebound {} · journal schema {}</footer>\n</body>\n</html>\n",
                     html_escape(str(j, "rebound_version")), j.value("schema_version", 0));
  return out;
}

}  // namespace rebound
