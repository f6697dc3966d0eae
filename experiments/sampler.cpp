#include "experiments/sampler.hpp"

#include <algorithm>
#include <exception>
#include <fmt/format.h>

namespace rebound {

Sampler::Sampler(const ProbeDecl& decl, SteadyClock::time_point epoch) : decl_(decl), epoch_(epoch) {
  series_.name = decl.name;
  series_.samples.reserve(decl.probe && decl.probe->load() ? 8192 : 1024);
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
  stop_flag_ = true;
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

void Sampler::add(Sample&& s) {
  std::lock_guard lock(mutex_);
  failures_ += s.failed();
  count_ += s.weight();
  series_.samples.push_back(std::move(s));
}

namespace {
// Hands a load generator's buckets and failed requests to the sampler's series.
class SeriesSink : public LoadSink {
 public:
  SeriesSink(std::function<void(Sample&&)> add, std::function<void(Sample&&)> failed)
      : add_(std::move(add)), failed_(std::move(failed)) {}
  void bucket(RequestBucket&& b) override {
    Sample s;
    s.t_ms = b.t_ms;
    s.end_ms = b.end_ms;
    s.ok = b.failures == 0;
    s.latency_ms = b.max_latency_ms;
    s.reason = b.failures ? std::move(b.reason) : "ok";
    s.requests = std::make_shared<const RequestCounts>(RequestCounts{b.count, b.failures, std::move(b.latency)});
    add_(std::move(s));
  }
  void failed(FailedRequest&& r) override {
    failed_(Sample{r.t_ms, r.end_ms, false, r.latency_ms, std::move(r.reason), nullptr});
  }

 private:
  std::function<void(Sample&&)> add_, failed_;
};
}  // namespace

void Sampler::load_loop(LoadGenerator& generator) {
  SeriesSink sink([this](Sample&& s) { add(std::move(s)); },
                  [this](Sample&& s) {
                    std::lock_guard lock(mutex_);
                    if (series_.failed_requests.size() < kMaxFailedRequests) series_.failed_requests.push_back(std::move(s));
                    else ++series_.failed_requests_dropped;
                  });
  try {
    generator.run(epoch_, stop_flag_, sink);
  } catch (const std::exception& e) {
    const double now = now_ms();
    add(Sample{now, now, false, 0, fmt::format("the load probe failed: {}", e.what()), nullptr});
  }
}

void Sampler::loop() {
  if (LoadGenerator* generator = decl_.probe->load()) return load_loop(*generator);
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
    ++count_;
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

ProbeSeries Sampler::take() {
  std::lock_guard lock(mutex_);
  ProbeSeries out = std::move(series_);
  series_ = ProbeSeries{};
  series_.name = decl_.name;
  return out;
}

ProbeSeries Sampler::snapshot_since(double from_ms) const {
  // A sample lasts at most its timeout (plus scheduling slack), so earlier starts cannot reach from_ms.
  const double earliest = from_ms - decl_.timeout.count() - 1000;
  std::lock_guard lock(mutex_);
  auto first = std::lower_bound(series_.samples.begin(), series_.samples.end(), earliest,
                                [](const Sample& s, double t) { return s.t_ms < t; });
  ProbeSeries out;
  out.name = series_.name;
  out.samples.assign(first, series_.samples.end());
  return out;
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
  return count_;
}

void Sampler::inspect(const std::function<void(const ProbeSeries&)>& f) const {
  std::lock_guard lock(mutex_);
  f(series_);
}

}  // namespace rebound
