#pragma once
// A parser of the Prometheus text exposition format (0.0.4) and of OpenMetrics text (1.0): what a /metrics
// endpoint serves. Debian packages no C++ library for it. Strict like Prometheus's own scraper: a malformed line
// rejects the page (with its line number), since a half-read page could hide the series a probe looks for.
// Bounded: lines, labels per series, and the samples kept; the caller bounds the text itself.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/result.hpp"

namespace rebound {

struct MetricLabel {
  std::string name;
  std::string value;  // unescaped
};

struct MetricSample {
  std::string name;
  std::vector<MetricLabel> labels;  // in the page's order
  double value = 0;
  // As written: milliseconds in the Prometheus text format, seconds in OpenMetrics. rebound times samples by
  // its own clock and keeps this only to show it.
  std::optional<double> timestamp;

  const std::string* label(std::string_view name) const;
  std::string labels_text() const;  // {code="500",path="/"} (escaped again), "" without labels
};

struct MetricsTextLimits {
  size_t max_line = 1 << 16;
  size_t max_labels = 128;
  size_t max_kept = 10000;  // samples handed over (those `keep` accepts)
};

struct MetricsPage {
  std::vector<MetricSample> samples;        // those `keep` accepted, in page order
  std::map<std::string, std::string> types;  // family name -> counter, gauge, histogram, ...
  std::map<std::string, std::string> help;   // family name -> text (unescaped)
  size_t total_samples = 0;                  // every sample line of the page
  bool open_metrics_eof = false;             // the page ended with "# EOF"
};

// `keep` picks the samples to hand over by name (all when empty). An error says "line N: what".
Result<MetricsPage> parse_metrics_text(std::string_view text,
                                       const std::function<bool(std::string_view name)>& keep = {},
                                       const MetricsTextLimits& limits = {});

}  // namespace rebound
