#include "reports/suite_charts.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>

#include "history/trend.hpp"
#include "reports/html.hpp"

namespace rebound {

std::map<std::string, std::optional<double>> suite_slos(const Suite& suite) {
  std::map<std::string, std::optional<double>> out;
  for (const auto& g : suite.groups)
    for (const auto& e : g.entries) {
      const auto& within = e.experiment.slo.recover_within;
      out[e.experiment.name] = within ? std::optional<double>(static_cast<double>(within->count())) : std::nullopt;
    }
  return out;
}

namespace {

// A tick step of 1, 2 or 5 times a power of ten that cuts [0, top] into at most 6 parts.
double tick_step(double top) {
  double step = std::pow(10, std::floor(std::log10(std::max(top, 1.0) / 5)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (top / (step * m) <= 6) return step * m;
  return step * 10;
}

std::string ms_text(double v) {
  if (v == 0) return "0 ms";
  return v >= 100 ? fmt::format("{:.0f} ms", v) : fmt::format("{:.1f} ms", v);
}

}  // namespace

// Time to recover per experiment: one dot per trial on a shared axis, the median as a bar, the SLO deadline dashed.
std::string suite_distribution_svg(const SuiteOutcome& o, const std::map<std::string, std::optional<double>>& slos) {
  double top = 1;
  for (const auto& t : o.trials) top = std::max(top, t.result.metrics.time_to_recover_ms.value_or(0));
  for (const auto& e : o.entries)
    if (auto it = slos.find(e.experiment); it != slos.end() && it->second) top = std::max(top, *it->second);
  top *= 1.05;
  const double left = 220, width = 1000, row = 40;
  const double height = 30 + row * static_cast<double>(o.entries.size()) + 24;
  auto x = [&](double t) { return left + t / top * (width - left - 30); };
  std::string out = fmt::format("<svg id=\"distribution\" viewBox=\"0 0 {} {}\">\n", width, height);
  const double step = tick_step(top);
  for (double t = 0; t <= top; t += step)
    out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"24\" y2=\"{1:.1f}\" stroke=\"#eaeef2\"/><text "
                       "class=\"axis\" x=\"{0:.1f}\" y=\"18\" text-anchor=\"middle\">{2}</text>\n",
                       x(t), height - 20, ms_text(t));
  out += fmt::format("<text x=\"8\" y=\"18\">time to recover</text>\n");
  for (size_t i = 0; i < o.entries.size(); ++i) {
    const auto& e = o.entries[i];
    double y = 30 + row * static_cast<double>(i) + row / 2;
    out += fmt::format("<text x=\"8\" y=\"{:.1f}\">{}</text><line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" "
                       "stroke=\"#d0d7de\"/>\n",
                       y + 4, html_escape(e.experiment), left, width - 30, y, y);
    if (auto it = slos.find(e.experiment); it != slos.end() && it->second)
      out += fmt::format("<line class=\"slo-deadline\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" "
                         "stroke=\"#cf222e\" stroke-dasharray=\"5 3\" stroke-width=\"1.5\"/><text class=\"slo-label\" "
                         "x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" fill=\"#cf222e\">recover_within {5}</text>\n",
                         x(*it->second), y - 16, y + 16, x(*it->second) - 4, y - 8, ms_text(*it->second));
    for (const auto& t : o.trials) {
      if (t.experiment != e.experiment) continue;
      if (auto ttr = t.result.metrics.time_to_recover_ms)
        out += fmt::format("<circle class=\"trial\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\" fill-opacity=\"0.7\">"
                           "<title>trial {}: {:.1f} ms</title></circle>\n",
                           x(*ttr), y, t.result.verdict == Verdict::passed ? "#1a7f37" : "#cf222e", t.trial, *ttr);
      else
        out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" fill=\"#cf222e\">trial {}: no recovery</text>\n", width - 140,
                           y + 14, t.trial);
    }
    if (e.stats.median)
      out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#0969da\" "
                         "stroke-width=\"2\"><title>median {3:.1f} ms</title></line>\n",
                         x(*e.stats.median), y - 10, y + 10, *e.stats.median);
  }
  return out + "</svg>\n";
}

namespace {

// One bar of the trend with its value above it (turned upright when the bars are narrow).
std::string trend_bar(const HistoryRow& r, double x, double w, double base, const std::function<double(double)>& y) {
  const auto& v = r.time_to_recover_ms;
  const double top = v ? y(*v) : base - 4;
  std::string out = fmt::format("<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                                "fill=\"{}\"><title>run {}, {}: {}</title></rect>",
                                x, top, w, std::max(base - top, 1.0), v ? (r.verdict == "passed" ? "#0969da" : "#cf222e")
                                                                        : "#d0d7de",
                                r.id, html_escape(r.started_at), v ? ms_text(*v) : "did not recover");
  const std::string label = v ? fmt::format("{:.0f}", *v) : "none";
  const double cx = x + w / 2;
  if (w >= 26)
    out += fmt::format("<text class=\"bar-value\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", cx,
                       top - 3, label);
  else
    out += fmt::format("<text class=\"bar-value\" x=\"{0:.1f}\" y=\"{1:.1f}\" transform=\"rotate(-90 {0:.1f} {1:.1f})\" "
                       "dominant-baseline=\"middle\">{2}</text>",
                       cx, top - 3, label);
  return out + "\n";
}

}  // namespace

namespace {

struct TrendLine {
  TrendFit fit;
  std::vector<size_t> slots;  // the run (slot) of each fitted value
  size_t ahead = 0;           // runs drawn past the newest for the projection
};

// The fitted trend of the runs' times to recover, and how far to project it: not at all without a trend, to where it
// crosses the SLO when that is within as many runs again as are shown, else a quarter of the runs shown (at least 2).
std::optional<TrendLine> trend_line(const std::vector<HistoryRow>& rows, std::optional<double> slo_ms) {
  TrendLine line;
  std::vector<double> values;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].time_to_recover_ms) {
      values.push_back(*rows[i].time_to_recover_ms);
      line.slots.push_back(i);
    }
  auto fit = fit_trend(values);
  if (!fit) return std::nullopt;
  line.fit = *fit;
  if (!fit->rising() && !fit->falling()) return line;  // no trend: nothing to project
  line.ahead = std::max<size_t>(2, rows.size() / 4);
  if (auto runs = slo_ms ? fit->runs_until(*slo_ms) : std::nullopt; runs && *runs <= static_cast<double>(rows.size()))
    line.ahead = std::max<size_t>(1, static_cast<size_t>(std::ceil(*runs)));
  return line;
}

// The fitted line over the runs (solid) and its projection (dashed), with where it meets the SLO.
std::string trend_line_svg(const TrendLine& t, std::optional<double> slo_ms, const std::function<double(double)>& x,
                           const std::function<double(double)>& y, double top_value) {
  const TrendFit& f = t.fit;
  auto value_at = [&](double k) { return std::clamp(f.intercept + f.slope * k, 0.0, top_value); };
  const double last = static_cast<double>(f.runs - 1), last_slot = static_cast<double>(t.slots.back());
  const char* colour = f.rising() ? "#bf3989" : "#57606a";
  std::string out = fmt::format(
      "<line class=\"trend-fit\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
      "stroke-width=\"2\"><title>Theil-Sen fit: {:+.1f} ms per run</title></line>",
      x(static_cast<double>(t.slots.front())), y(value_at(0)), x(last_slot), y(value_at(last)), colour, f.slope);
  if (t.ahead == 0) return out + "\n";
  double end = static_cast<double>(t.ahead);
  const double crossing = slo_ms ? f.runs_until(*slo_ms).value_or(-1) : -1;  // -1: it does not cross
  const bool crosses = crossing >= 0 && crossing <= end;
  if (crosses) end = crossing;
  out += fmt::format("<line class=\"trend-projection\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                     "stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>",
                     x(last_slot), y(value_at(last)), x(last_slot + end), y(value_at(last + end)), colour);
  if (crosses)
    out += fmt::format("<circle class=\"trend-crossing\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"#cf222e\"><title>"
                       "crosses the SLO in about {:.0f} runs</title></circle>",
                       x(last_slot + end), y(value_at(last + end)), std::ceil(crossing));
  return out + "\n";
}

}  // namespace

std::string suite_trend_svg(const std::vector<HistoryRow>& rows, std::optional<double> slo_ms) {
  const double width = 640, height = 190, left = 64, right = 150, top_pad = 34, bottom = 166;
  double most = slo_ms.value_or(1);
  for (const auto& r : rows) most = std::max(most, r.time_to_recover_ms.value_or(0));
  const double step = tick_step(most * 1.05);
  const double top = std::ceil(most * 1.05 / step) * step;
  auto y = [&](double v) { return bottom - v / top * (bottom - top_pad); };
  const auto line = trend_line(rows, slo_ms);
  const size_t slots = std::max<size_t>(rows.size(), 1) + (line ? line->ahead : 0);
  const double slot = (width - right - left) / static_cast<double>(slots);
  auto x = [&](double run) { return left + slot * run + slot / 2; };  // the middle of run `run`'s bar
  std::string out = fmt::format("<svg class=\"trend\" viewBox=\"0 0 {0} {1}\" style=\"width:{0}px;border:none\">\n",
                                width, height);
  out += fmt::format("<text class=\"axis-name\" x=\"4\" y=\"12\">time to recover (ms)</text>\n");
  for (double t = 0; t <= top + step / 2; t += step)
    out += fmt::format("<line class=\"tick\" x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#eaeef2\"/>"
                       "<text class=\"axis\" x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
                       left, width - right, y(t), left - 4, y(t) + 4, ms_text(t));
  out += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#8c959f\"/><line x1=\"{0}\" x2=\"{3}\" "
                     "y1=\"{2}\" y2=\"{2}\" stroke=\"#8c959f\"/>\n",
                     left, top_pad, bottom, width - right);
  for (size_t i = 0; i < rows.size(); ++i)
    out += trend_bar(rows[i], left + slot * static_cast<double>(i) + 2, std::max(2.0, slot - 4), bottom, y);
  if (slo_ms)
    out += fmt::format("<line class=\"slo-line\" x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#cf222e\" "
                       "stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/><text class=\"slo-label\" x=\"{3}\" "
                       "y=\"{4:.1f}\" fill=\"#cf222e\">SLO: recover_within</text><text class=\"slo-label\" x=\"{3}\" "
                       "y=\"{5:.1f}\" fill=\"#cf222e\">{6}</text>\n",
                       left, width - right, y(*slo_ms), width - right + 6, y(*slo_ms) - 2, y(*slo_ms) + 11,
                       ms_text(*slo_ms));
  if (line) out += trend_line_svg(*line, slo_ms, x, y, top);
  out += fmt::format("<text class=\"axis-name\" x=\"{}\" y=\"{}\">runs, oldest to newest{}</text>\n", left, bottom + 18,
                     !line ? "" : line->ahead ? "; line: trend, dashed: projected" : "; grey line: fit, no trend");
  return out + "</svg>";
}

std::string suite_trend_text(const std::vector<HistoryRow>& rows, std::optional<double> slo_ms) {
  std::vector<double> values;
  for (const auto& r : rows)
    if (r.time_to_recover_ms) values.push_back(*r.time_to_recover_ms);
  auto fit = fit_trend(values);
  if (!fit) return fmt::format("trend: needs at least {} runs with a time to recover", TrendFit::kMinRuns);
  return "trend: " + describe_trend(*fit, "time to recover", "recover_within", slo_ms);
}

}  // namespace rebound
