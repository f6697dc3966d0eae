#include "reports/html_load_lane.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <vector>

#include "reports/html.hpp"
#include "reports/journal_buckets.hpp"

namespace rebound {

namespace {

// The buckets that fall on one pixel column (about 2 px wide): their requests, failures and latency bands.
struct Column {
  double t = 0;
  double requests = 0, failed = 0, buckets = 0;
  double p50_sum = 0, p50_weight = 0;  // the requests-weighted mean of the buckets' p50
  double p99 = 0;                      // the highest bucket p99
};

std::vector<Column> columns_of(const nlohmann::json& probe, const ProbeSeries* live,
                               const std::function<double(double)>& x) {
  std::map<long, Column> by_pixel;
  for_each_bucket_row(probe, live, [&](const BucketRow& row) {
    Column& c = by_pixel[static_cast<long>(x(row.t_ms) / 2)];
    if (c.buckets++ == 0) c.t = row.t_ms;
    c.requests += row.requests;
    c.failed += row.failed;
    if (row.p50_ms) {
      c.p50_sum += *row.p50_ms * row.requests;
      c.p50_weight += row.requests;
    }
    if (row.p99_ms) c.p99 = std::max(c.p99, *row.p99_ms);
  });
  std::vector<Column> out;
  for (auto& [pixel, c] : by_pixel) out.push_back(c);
  return out;
}

}  // namespace

bool is_load_lane(const nlohmann::json& probe) {
  if (!probe.is_object()) return false;
  if (probe.contains("bucket_columns")) return true;  // rows in "buckets", or left to the run's series
  return probe.contains("buckets") && probe["buckets"].is_array() && !probe["buckets"].empty();
}

std::string load_lane_svg(const nlohmann::json& probe, const ProbeSeries* live,
                          const std::function<double(double)>& x, double lane_top, double lane_bottom) {
  const auto columns = columns_of(probe, live, x);
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
  // Three short lines left of the plot (it starts at x = 150): one long line ran over the plot.
  std::string out = fmt::format("<text x=\"8\" y=\"{:.1f}\" class=\"lane-scale\">p50–p99, 0–{:.1f} ms</text>\n"
                                "<text x=\"8\" y=\"{:.1f}\" class=\"lane-scale\">requests/10 ms (grey)</text>\n"
                                "<text x=\"8\" y=\"{:.1f}\" class=\"lane-scale\">error ratio (red)</text>\n",
                                lane_top + 30, scale, lane_top + 44, lane_top + 58);
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
