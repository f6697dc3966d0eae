#include "reports/html_load_lane.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
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
  // Rows of the journal's bucket_columns: t_ms, end_ms, requests, failed, max_latency_ms, p50_ms, p99_ms, ...
  auto number = [](const nlohmann::json& row, size_t i) {
    return row.is_array() && row.size() > i && row[i].is_number() ? std::optional<double>(row[i].get<double>())
                                                                  : std::nullopt;
  };
  for (const auto& row : probe["buckets"]) {
    const double t = number(row, 0).value_or(0);
    Column& c = by_pixel[static_cast<long>(x(t) / 2)];
    if (c.buckets++ == 0) c.t = t;
    const double n = number(row, 2).value_or(0);
    c.requests += n;
    c.failed += number(row, 3).value_or(0);
    if (auto p50 = number(row, 5)) {
      c.p50_sum += *p50 * n;
      c.p50_weight += n;
    }
    if (auto p99 = number(row, 6)) c.p99 = std::max(c.p99, *p99);
  }
  std::vector<Column> out;
  for (auto& [pixel, c] : by_pixel) out.push_back(c);
  return out;
}

}  // namespace

bool is_load_lane(const nlohmann::json& probe) {
  return probe.is_object() && probe.contains("buckets") && probe["buckets"].is_array() && !probe["buckets"].empty();
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
