#pragma once
// Is a measure (time to recover, time to heal) drifting over an experiment's runs? Theil-Sen's slope with Sen's
// confidence interval, and the Mann-Kendall test for a monotonic trend: both rank-based, so one slow run (a noisy
// machine) neither makes nor hides a trend the way a least-squares fit would.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace rebound {

struct TrendFit {
  size_t runs = 0;                        // values fitted, oldest first at run index 0
  double slope = 0, intercept = 0;        // per run; the fitted value of run i is intercept + slope * i
  double slope_low = 0, slope_high = 0;   // Sen's 95% confidence interval for the slope
  double p_value = 1;                     // Mann-Kendall, two-sided
  bool rising() const { return p_value < kSignificance && slope > 0 && slope_low > 0; }
  bool falling() const { return p_value < kSignificance && slope < 0 && slope_high < 0; }
  double fitted_last() const { return intercept + slope * static_cast<double>(runs - 1); }
  // How many runs after the newest the fitted line reaches `limit` (0: it is there already); none unless rising.
  std::optional<double> runs_until(double limit) const;

  static constexpr double kSignificance = 0.05;
  static constexpr size_t kMinRuns = 5;  // fewer cannot reach p < 0.05 even when every run is slower than the last
};

// None with fewer than TrendFit::kMinRuns values.
std::optional<TrendFit> fit_trend(const std::vector<double>& values);

// One sentence: "time to recover rising by 40.0 ms per run (95% CI 25.0 to 55.0 ms, p = 0.003, 12 runs); at this
// rate it crosses recover_within (2000 ms) in about 12 runs", or "... no trend (...)".
std::string describe_trend(const TrendFit& fit, const std::string& what, const std::string& slo_name,
                           std::optional<double> slo_ms);

}  // namespace rebound
