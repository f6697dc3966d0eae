#pragma once
// The `metrics` probe: scrapes a Prometheus or OpenMetrics text endpoint (/metrics), picks one series by name
// and labels, and judges its value (or, with `rate`, its per-second rate between samples) against `expect`.
#include <optional>
#include <string>
#include <vector>

#include "probes/counter_rate.hpp"
#include "probes/expectation.hpp"
#include "probes/http_client.hpp"
#include "probes/metrics_text.hpp"
#include "probes/registry.hpp"

namespace rebound {

class MetricsProbe : public Probe {
 public:
  static constexpr size_t kMaxPage = 8 << 20;

  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  SampleResult sample() override;
  nlohmann::json describe() const override;

 private:
  struct Reading {
    double t_ms = 0;  // steady clock, when the page arrived
    double value = 0;
  };
  // One scrape within `timeout`: the picked series' value, or why there is none.
  Result<Reading> read(Millis timeout);
  // The series the page has, against name_ and labels_: the one value, or why not exactly one.
  Result<double> pick(const MetricsPage& page) const;
  std::string wanted() const;  // name{labels} as the user wrote them
  SampleResult judge_rate(SampleResult r, const Reading& reading, double started_ms);

  std::string url_;
  std::string name_;
  std::vector<MetricLabel> labels_;
  Expectation expect_;
  std::optional<Millis> rate_;
  std::optional<CounterRate> rates_;
  Millis timeout_{1000};
  HttpClient client_;
};

}  // namespace rebound
