#pragma once
// Samples one probe continuously on its own thread at its interval, timestamping each sample
// on the experiment's monotonic clock. Missed ticks (a slow sample) are skipped, not bunched up.
// A load probe instead runs its own open-loop generator on that thread: its series gets one record per 10 ms
// bucket of requests (Sample::requests), and its failed requests one by one up to kMaxFailedRequests.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "experiments/analysis.hpp"
#include "experiments/experiment.hpp"
#include "probes/probe.hpp"

namespace rebound {

using SteadyClock = std::chrono::steady_clock;

// One sample; an exception (a probe's bug, descriptors exhausted, memory) is a failed sample with its message,
// never the end of rebound while faults are applied.
SampleResult sample_safely(Probe& probe);

class Sampler {
 public:
  static constexpr size_t kMaxFailedRequests = 10000;

  Sampler(const ProbeDecl& decl, SteadyClock::time_point epoch);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void start();
  void request_stop();  // returns at once; the thread ends after its sample in flight
  void stop();          // request_stop, then wait for the thread
  const std::string& name() const { return decl_.name; }
  const ProbeDecl& decl() const { return decl_; }
  ProbeSeries snapshot() const;
  // The series itself, moved out once the sampler has stopped (the runner's result); it is empty afterwards.
  ProbeSeries take();
  // Only the samples that may matter from `from_ms` on (those that could still have been in flight then).
  ProbeSeries snapshot_since(double from_ms) const;
  size_t failures() const;  // failed samples (a load probe's: failed requests)
  std::optional<Sample> last() const;
  size_t size() const;      // samples (a load probe's: requests)
  // Runs f on the live series under the lock (no copy), for frequent checks such as guards.
  void inspect(const std::function<void(const ProbeSeries&)>& f) const;

 private:
  void loop();
  void load_loop(LoadGenerator& generator);
  void add(Sample&& s);
  double now_ms() const;

  const ProbeDecl& decl_;
  SteadyClock::time_point epoch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};  // the same, for a load generator's event loop
  ProbeSeries series_;
  size_t failures_ = 0, count_ = 0;
  std::thread thread_;
};

}  // namespace rebound
