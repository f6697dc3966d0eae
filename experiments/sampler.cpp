#include "experiments/sampler.hpp"

#include <algorithm>
#include <exception>
#include <fmt/format.h>

namespace rebound {

Sampler::Sampler(const ProbeDecl& decl, SteadyClock::time_point epoch) : decl_(decl), epoch_(epoch) {
  series_.name = decl.name;
  series_.samples.reserve(1024);
}

Sampler::~Sampler() { stop(); }

double Sampler::now_ms() const {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - epoch_).count();
}

void Sampler::start() {
  thread_ = std::thread([this] { loop(); });
}

void Sampler::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

void Sampler::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

SampleResult sample_safely(Probe& probe) {
  try {
    return probe.sample();
  } catch (const std::exception& e) {
    return SampleResult{false, 0, fmt::format("the probe failed: {}", e.what())};
  } catch (...) {
    return SampleResult{false, 0, "the probe failed with an unknown exception"};
  }
}

void Sampler::loop() {
  const auto interval = std::chrono::duration_cast<SteadyClock::duration>(decl_.interval);
  auto next = SteadyClock::now();
  for (;;) {
    Sample s;
    s.t_ms = now_ms();
    SampleResult r = sample_safely(*decl_.probe);
    s.end_ms = now_ms();
    s.ok = r.ok;
    s.latency_ms = r.latency_ms;
    s.reason = std::move(r.reason);
    std::unique_lock lock(mutex_);
    failures_ += s.ok ? 0 : 1;
    series_.samples.push_back(std::move(s));
    next += interval;
    const auto now = SteadyClock::now();
    if (next < now) next += ((now - next) / interval + 1) * interval;  // skip missed ticks
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
  }
}

ProbeSeries Sampler::snapshot() const {
  std::lock_guard lock(mutex_);
  return series_;
}

ProbeSeries Sampler::snapshot_since(double from_ms) const {
  // A sample lasts at most its timeout (plus scheduling slack), so earlier starts cannot reach from_ms.
  const double earliest = from_ms - decl_.timeout.count() - 1000;
  std::lock_guard lock(mutex_);
  auto first = std::lower_bound(series_.samples.begin(), series_.samples.end(), earliest,
                                [](const Sample& s, double t) { return s.t_ms < t; });
  return ProbeSeries{series_.name, std::vector<Sample>(first, series_.samples.end())};
}

size_t Sampler::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::optional<Sample> Sampler::last() const {
  std::lock_guard lock(mutex_);
  if (series_.samples.empty()) return std::nullopt;
  return series_.samples.back();
}

size_t Sampler::size() const {
  std::lock_guard lock(mutex_);
  return series_.samples.size();
}

void Sampler::inspect(const std::function<void(const ProbeSeries&)>& f) const {
  std::lock_guard lock(mutex_);
  f(series_);
}

}  // namespace rebound
