#include "history/trend.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace rebound {

namespace {

double median_of(std::vector<double> v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  return (*std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)) + upper) / 2;
}

// Var(S) of Mann-Kendall's statistic under no trend, less what tied values take away.
double kendall_variance(const std::vector<double>& values) {
  const double n = static_cast<double>(values.size());
  double variance = n * (n - 1) * (2 * n + 5);
  std::map<double, double> ties;
  for (double v : values) ++ties[v];
  for (const auto& [value, t] : ties) variance -= t * (t - 1) * (2 * t + 5);
  return variance / 18;
}

// The k-th smallest (1-based, rounded and clamped) of sorted values.
double ranked(const std::vector<double>& sorted, double k) {
  const double index = std::clamp(std::round(k), 1.0, static_cast<double>(sorted.size()));
  return sorted[static_cast<size_t>(index) - 1];
}

std::string ms_figure(double v) { return fmt::format("{:.1f}", v); }

}  // namespace

std::optional<double> TrendFit::runs_until(double limit) const {
  if (!rising()) return std::nullopt;
  return std::max(0.0, (limit - fitted_last()) / slope);
}

std::optional<TrendFit> fit_trend(const std::vector<double>& values) {
  if (values.size() < TrendFit::kMinRuns) return std::nullopt;
  TrendFit fit;
  fit.runs = values.size();
  std::vector<double> slopes;
  slopes.reserve(values.size() * (values.size() - 1) / 2);
  double s = 0;  // Mann-Kendall: later runs above earlier ones minus later runs below
  for (size_t i = 0; i < values.size(); ++i)
    for (size_t j = i + 1; j < values.size(); ++j) {
      slopes.push_back((values[j] - values[i]) / static_cast<double>(j - i));
      s += (values[j] > values[i]) - (values[j] < values[i]);
    }
  std::sort(slopes.begin(), slopes.end());
  fit.slope = median_of(slopes);
  std::vector<double> offsets;
  for (size_t i = 0; i < values.size(); ++i) offsets.push_back(values[i] - fit.slope * static_cast<double>(i));
  fit.intercept = median_of(offsets);

  const double variance = kendall_variance(values);
  if (variance > 0) {
    // The continuity-corrected normal approximation, as Mann (1945) and Kendall give it.
    const double z = s > 0 ? (s - 1) / std::sqrt(variance) : s < 0 ? (s + 1) / std::sqrt(variance) : 0;
    fit.p_value = std::erfc(std::fabs(z) / std::sqrt(2.0));
  }
  // Sen (1968): the slopes ranked (N - C)/2 and (N + C)/2 + 1 bound the slope with 95% confidence.
  const double n = static_cast<double>(slopes.size()), c = 1.959964 * std::sqrt(variance);
  fit.slope_low = ranked(slopes, (n - c) / 2);
  fit.slope_high = ranked(slopes, (n + c) / 2 + 1);
  return fit;
}

std::string describe_trend(const TrendFit& fit, const std::string& what, const std::string& slo_name,
                           std::optional<double> slo_ms) {
  const std::string stats = fmt::format("95% CI {} to {} ms per run, Mann-Kendall p = {:.3f}, {} runs",
                                        ms_figure(fit.slope_low), ms_figure(fit.slope_high), fit.p_value, fit.runs);
  if (!fit.rising() && !fit.falling()) return fmt::format("{}: no trend ({})", what, stats);
  std::string out = fmt::format("{} {} by {} ms per run ({})", what, fit.rising() ? "rising" : "falling",
                                ms_figure(std::fabs(fit.slope)), stats);
  if (fit.rising() && slo_ms) {
    const double runs = *fit.runs_until(*slo_ms);
    if (runs <= 0)
      out += fmt::format("; the fitted line is already past {} ({} ms)", slo_name, ms_figure(*slo_ms));
    else
      out += fmt::format("; at this rate it crosses {} ({} ms) in about {:.0f} run{}", slo_name, ms_figure(*slo_ms),
                         std::ceil(runs), std::ceil(runs) == 1 ? "" : "s");
  }
  return out;
}

}  // namespace rebound
