#include "reports/html_load_lane.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <vector>

#include "reports/html.hpp"

namespace rebound {

namespace {

// The buckets that fall on one pixel column (about 2 px wide): their requests, failures and latency bands.
struct Column {
  double t = 0;
  double requests = 0, failed = 0, buckets = 0;
  double p50_sum = 0, p50_weight = 0;  // the requests-weighted mean of the buckets' p50
  double p99 = 0;                      // the highest bucket p99
};

std::vector<Column> columns_of(const nlohmann::json& probe, const std::function<double(double)>& x) {
  std::map<long, Column> by_pixel;
  for (const auto& s : probe["samples"]) {
    const double t = s.value("t_ms", 0.0);
    Column& c = by_pixel[static_cast<long>(x(t) / 2)];
    if (c.buckets++ == 0) c.t = t;
    const double n = s.value("requests", 0.0);
    c.requests += n;
    c.failed += s.value("failed", 0.0);
    if (s.contains("p50_ms") && s["p50_ms"].is_number()) {
      c.p50_sum += s["p50_ms"].get<double>() * n;
      c.p50_weight += n;
    }
    if (s.contains("p99_ms") && s["p99_ms"].is_number()) c.p99 = std::max(c.p99, s["p99_ms"].get<double>());
  }
  std::vector<Column> out;
  for (auto& [pixel, c] : by_pixel) out.push_back(c);
  return out;
}

}  // namespace

bool is_load_lane(const nlohmann::json& probe) {
  const auto& samples = probe["samples"];
  return !samples.empty() && samples[0].contains("requests");
}

std::string load_lane_svg(const nlohmann::json& probe, const std::function<double(double)>& x, double lane_top,
                          double lane_bottom) {
  const auto columns = columns_of(probe, x);
  std::vector<double> p99s;
  double max_rate = 1;
  for (const auto& c : columns) {
    p99s.push_back(c.p99);
    max_rate = std::max(max_rate, c.requests / c.buckets);
  }
  std::sort(p99s.begin(), p99s.end());
  const double scale = p99s.empty() ? 1.0 : std::max(1.0, p99s[p99s.size() * 99 / 100] * 1.2);
  const double h = lane_bottom - lane_top;
  auto y = [&](double latency) { return lane_bottom - std::min(latency / scale, 1.0) * h; };
  std::string band_top, band_bottom, p50_line, rate_line, svg;
  for (const auto& c : columns) {
    const double px = x(c.t);
    band_top += fmt::format("{:.1f},{:.1f} ", px, y(c.p99));
    band_bottom = fmt::format("{:.1f},{:.1f} ", px, y(c.p50_weight ? c.p50_sum / c.p50_weight : 0)) + band_bottom;
    p50_line += fmt::format("{:.1f},{:.1f} ", px, y(c.p50_weight ? c.p50_sum / c.p50_weight : 0));
    rate_line += fmt::format("{:.1f},{:.1f} ", px, lane_bottom - c.requests / c.buckets / max_rate * h * 0.3);
    if (c.failed > 0)
      svg += fmt::format("<rect class=\"error-ratio\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"2\" height=\"{:.1f}\" "
                         "fill=\"#cf222e\" fill-opacity=\"0.6\"><title>{:.1f} ms: {:.0f} of {:.0f} requests failed"
                         "</title></rect>\n",
                         px, lane_bottom - c.failed / c.requests * h, c.failed / c.requests * h, c.t, c.failed,
                         c.requests);
  }
  std::string out = fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"lane-scale\">p50–p99, 0–{:.1f} ms; "
                                "requests/10 ms (grey), error ratio (red)</text>\n",
                                lane_top + 30, scale);
  out += fmt::format("<polygon class=\"latency-band\" fill=\"#0969da\" fill-opacity=\"0.18\" points=\"{}{}\"/>\n",
                     band_top, band_bottom);
  out += fmt::format("<polyline class=\"latency-p50\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.2\" "
                     "points=\"{}\"/>\n",
                     p50_line);
  out += fmt::format("<polyline class=\"requests-per-bucket\" fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1\" "
                     "points=\"{}\"/>\n",
                     rate_line);
  return out + svg;
}

}  // namespace rebound
