#pragma once
// A probe takes one sample of the system's health. Nothing else.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/duration.hpp"

namespace rebound {

struct SampleResult {
  bool ok = false;
  double latency_ms = 0;
  std::string reason;  // short: "200", "connection refused", "status 503 not in [200]"
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Blocking; must return within the probe's timeout.
  virtual SampleResult sample() = 0;
  // The probe's parameters, for the journal.
  virtual nlohmann::json describe() const = 0;
};

}  // namespace rebound
