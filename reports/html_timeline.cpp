#include "reports/html_timeline.hpp"
#include "reports/json_fields.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>
#include <optional>

#include "reports/html.hpp"
#include "reports/html_load_lane.hpp"
#include "reports/report_text.hpp"

namespace rebound {

namespace {

using json = nlohmann::json;

using json_fields::num;
using json_fields::str;

// Where the timeline draws: its size, the plot's edges and the time scale.
struct Frame {
  const double width = 1000, left = 150, right = 20, lane_height = 90, top = 34;
  double end_ms = 1, plot_w = 0, height = 0, plot_bottom = 0;
  explicit Frame(const json& j) {
    end_ms = std::max(1.0, num(j, "duration_ms").value_or(1));
    plot_w = width - left - right;
    height = top + lane_height * std::max<size_t>(1, j["probes"].size()) + 70;
    plot_bottom = height - 70;  // below: fault, recovery and healing labels, then the time axis (two rows)
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
    if (str(s, "kind") != "fault" && str(s, "kind") != "change") continue;
    // A change's impact window is the command's run, from its start.
    auto applied = num(s, str(s, "kind") == "change" ? "started_ms" : "applied_ms");
    if (!applied) continue;
    double until = num(s, str(s, "kind") == "change" ? "ended_ms" : "reverted_ms").value_or(*applied);
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

// Healing under the fault: the degraded span (first impact -> healed) shaded, the moment it healed while the fault
// was still applied marked, and the heal_within deadline. Journals of schema 1 have none of it.
std::string timeline_heal(const json& j, const Frame& f) {
  std::string svg;
  const auto& m = j["metrics"];
  auto impact = num(m, "first_impact_ms");
  auto healed = num(m, "healed_at_ms");
  const bool instant = m.value("heal_is_recovery", false);
  if (impact) {
    auto until = healed ? healed : (instant ? std::nullopt : num(m, "end_of_impact_ms"));
    if (until && *until > *impact)
      svg += fmt::format("<rect id=\"degraded\" class=\"degraded\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" "
                         "height=\"{:.1f}\" fill=\"#bc4c00\" fill-opacity=\"0.14\"><title>degraded: first impact "
                         "at {:.0f} ms{}</title></rect>\n",
                         f.x(*impact), f.top, std::max(1.0, f.x(*until) - f.x(*impact)), f.plot_bottom - f.top, *impact,
                         healed ? fmt::format(", healed at {:.0f} ms", *healed) : ", never healed under the fault");
  }
  if (healed && !instant)
    svg += fmt::format("<line id=\"healed\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2:.1f}\" "
                       "stroke=\"#1f883d\" stroke-width=\"2\" stroke-dasharray=\"2 2\"/><text x=\"{0:.1f}\" "
                       "y=\"{3:.1f}\" class=\"healed-label\">healed +{4:.1f} s, under fault</text>\n",
                       f.x(*healed), f.top, f.plot_bottom, f.plot_bottom + 40,
                       num(m, "time_to_heal_ms").value_or(0) / 1000);
  auto first = num(m, "first_fault_ms");
  for (const auto& c : j["slo"])
    if (first && str(c, "criterion") == "heal_within")
      svg += fmt::format("<line id=\"heal-deadline\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2:.1f}\" "
                         "stroke=\"#bc4c00\" stroke-dasharray=\"5 4\" stroke-width=\"1.5\"/><text x=\"{0:.1f}\" "
                         "y=\"{1}\" class=\"deadline-label\" text-anchor=\"end\">heal_within</text>\n",
                         f.x(*first + num(c, "limit").value_or(0)), f.top + 24, f.plot_bottom);
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
std::string probe_lane(const json& p, size_t i, const Frame& f, const ProbeSeries* live) {
  double lane_top = f.top + f.lane_height * static_cast<double>(i) + 8;
  double lane_bottom = lane_top + f.lane_height - 20;
  std::vector<double> latencies;
  for (const auto& s : p["samples"])
    if (s.value("ok", false)) latencies.push_back(s.value("latency_ms", 0.0));
  std::sort(latencies.begin(), latencies.end());
  double scale = latencies.empty() ? 1.0 : std::max(1.0, latencies[latencies.size() * 99 / 100] * 1.2);
  auto y = [&](double latency) { return lane_bottom - std::min(latency / scale, 1.0) * (lane_bottom - lane_top); };
  std::string svg = fmt::format("<g class=\"probe-lane\" data-probe=\"{}\">\n", html_escape(str(p, "name")));
  if (is_load_lane(p)) {  // a load probe: requests per bucket, error ratio and p50/p99 bands
    svg += fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"lane-name\">{}</text>\n", lane_top + 14,
                       html_escape(str(p, "name")));
    svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#d0d7de\"/>\n", f.left,
                       f.width - f.right, lane_bottom, lane_bottom);
    svg += load_lane_svg(p, live, [&f](double t) { return f.x(t); }, lane_top, lane_bottom);
    return svg + "</g>\n";
  }
  svg += fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"lane-name\">{}</text><text x=\"8\" y=\"{:.1f}\" "
                     "class=\"lane-scale\">latency, 0–{:.1f} ms</text>\n",
                     lane_top + 14, html_escape(str(p, "name")), lane_top + 30, scale);
  svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#d0d7de\"/>\n", f.left,
                     f.width - f.right, lane_bottom, lane_bottom);
  svg += lane_samples(p, f, lane_bottom, y);
  svg += "</g>\n";
  return svg;
}

// Ticks as offsets from the start ("+2s") and, below them, as wall-clock times (UTC, like started_at).
std::string time_axis(const Frame& f, const std::string& started_at) {
  std::string svg;
  const bool clock = !wall_clock(started_at, 0).empty();
  // 1, 2 or 5 times a power of ten, at most 8 ticks: room for a wall-clock time under each.
  double step = std::pow(10, std::floor(std::log10(f.end_ms / 8)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (f.end_ms / (step * m) <= 8) {
      step *= m;
      break;
    }
  if (clock)
    svg += fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"axis-name\">since start</text><text x=\"8\" y=\"{:.1f}\" "
                       "class=\"axis-name\">wall clock (UTC)</text>\n",
                       f.height - 18, f.height - 4);
  for (double t = 0; t <= f.end_ms; t += step) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"middle\">{}{:g}s</text>\n", f.x(t),
                       clock ? f.height - 18 : f.height - 4, t > 0 ? "+" : "", t / 1000);
    if (clock)
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis-clock\" text-anchor=\"middle\">{}</text>\n",
                         f.x(t), f.height - 4, wall_clock(started_at, t));
  }
  return svg;
}

}  // namespace

// The timeline: one lane per probe (latency as a line, failed samples as red ticks), fault windows shaded,
// phases marked, the moment of recovery and the recover_within deadline drawn.
std::string timeline_svg(const json& j, const std::vector<ProbeSeries>* live) {
  const Frame f(j);
  std::string svg = fmt::format(
      "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" role=\"img\" "
      "aria-label=\"probe timeline\">\n",
      f.width, f.height);
  svg += timeline_phases(j, f);
  svg += timeline_faults(j, f);
  svg += timeline_heal(j, f);
  svg += timeline_recovery(j, f);
  const auto& probes = j["probes"];
  for (size_t i = 0; i < probes.size(); ++i)
    svg += probe_lane(probes[i], i, f, live && i < live->size() ? &(*live)[i] : nullptr);
  svg += time_axis(f, str(j, "started_at"));
  svg += "</svg>\n";
  return svg;
}

}  // namespace rebound
