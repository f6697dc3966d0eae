#pragma once
// The per-second rate of a counter from a probe's own timed readings, counted the way Prometheus's rate() counts
// increases: a reading lower than the one before it means the counter was reset (its process restarted from 0),
// so the increase since the reset is the new reading itself, never a negative rate.
#include <deque>
#include <optional>

#include "config/duration.hpp"

namespace rebound {

class CounterRate {
 public:
  explicit CounterRate(Millis window) : window_(window) {}

  struct Rate {
    double per_second = 0;
    double span_ms = 0;  // from the oldest reading used to the newest
    bool reset = false;  // a reset happened within the span
  };

  // Adds a reading taken at t_ms (a monotonic clock). The rate runs from the oldest reading within the window
  // before t_ms (or, when there is none, the previous reading) to this one; nullopt for the first reading.
  std::optional<Rate> add(double t_ms, double value);
  bool empty() const { return readings_.empty(); }

 private:
  struct Reading {
    double t_ms = 0;
    double value = 0;
  };
  Millis window_;
  std::deque<Reading> readings_;
};

}  // namespace rebound
