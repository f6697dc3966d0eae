#include "probes/counter_rate.hpp"

namespace rebound {

std::optional<CounterRate::Rate> CounterRate::add(double t_ms, double value) {
  // Readings older than the window go, but the previous one always stays: a probe sampled less often than its
  // window still gets a rate, over the span it actually has.
  while (readings_.size() > 1 && readings_.front().t_ms < t_ms - window_.count()) readings_.pop_front();
  readings_.push_back({t_ms, value});
  if (readings_.size() < 2) return std::nullopt;
  Rate rate;
  double increase = 0;
  for (size_t i = 1; i < readings_.size(); ++i) {
    const double before = readings_[i - 1].value, after = readings_[i].value;
    if (after < before) {
      rate.reset = true;
      increase += after;
    } else {
      increase += after - before;
    }
  }
  rate.span_ms = t_ms - readings_.front().t_ms;
  rate.per_second = rate.span_ms > 0 ? increase / (rate.span_ms / 1000.0) : 0;
  return rate;
}

}  // namespace rebound
