#pragma once
// A probe takes one sample of the system's health. Nothing else.
#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/duration.hpp"
#include "probes/latency_histogram.hpp"

namespace rebound {

struct SampleResult {
  bool ok = false;
  double latency_ms = 0;
  std::string reason;  // short: "200", "connection refused", "status 503 not in [200]"
};

// What a load probe saw of the requests it scheduled in one 10 ms bucket (times: ms since the run's epoch).
struct RequestBucket {
  double t_ms = 0;    // the first request's scheduled start
  double end_ms = 0;  // the last failed request's end, or the last request's end when none failed
  uint32_t count = 0, failures = 0;
  double max_latency_ms = 0;
  std::string reason;        // the first failure's reason, or "" when none failed
  SparseHistogram latency;   // the latencies of the requests that were sent (from their scheduled start)
};

// One failed request, for the journal (the sampler keeps the first ones up to a cap).
struct FailedRequest {
  double t_ms = 0, end_ms = 0, latency_ms = 0;
  std::string reason;
};

class LoadSink {
 public:
  virtual ~LoadSink() = default;
  virtual void bucket(RequestBucket&& b) = 0;  // in start order, once every request of the bucket has ended
  virtual void failed(FailedRequest&& r) = 0;
};

// An open-loop generator: it sends on its own schedule, not one sample at a time.
class LoadGenerator {
 public:
  virtual ~LoadGenerator() = default;
  // Sends requests on schedule until `stop` is set, then waits for those in flight (at most their timeout).
  virtual void run(std::chrono::steady_clock::time_point epoch, const std::atomic<bool>& stop, LoadSink& sink) = 0;
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Blocking; must return within the probe's timeout.
  virtual SampleResult sample() = 0;
  // The probe's parameters, for the journal.
  virtual nlohmann::json describe() const = 0;
  // A load probe's generator (the sampler runs it instead of calling sample() at an interval), or nullptr.
  virtual LoadGenerator* load() { return nullptr; }
};

}  // namespace rebound
