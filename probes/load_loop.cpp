// The load probe's event loop: one thread, libcurl's multi interface, requests started on a fixed schedule.
#include <algorithm>
#include <cmath>
#include <deque>
#include <fmt/format.h>
#include <mutex>
#include <sys/prctl.h>

#include "probes/load_probe.hpp"

namespace rebound {

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kBucketMs = 10;

// The buckets whose requests are not all over yet, contiguous from the oldest.
class BucketBook {
 public:
  void scheduled(double t_ms) {
    Open& o = at(index_of(t_ms));
    if (o.b.count++ == 0) o.b.t_ms = t_ms;
    ++o.pending;
  }
  // A request scheduled at t_ms ended at end_ms; `sent` false when it never left; failure "" when it was ok.
  void ended(double t_ms, double end_ms, double latency_ms, bool sent, const std::string& failure) {
    Open& o = at(index_of(t_ms));
    --o.pending;
    o.last_end = std::max(o.last_end, end_ms);
    if (sent) {
      o.bins.push_back(latency_bins::index_of(latency_ms));
      o.b.max_latency_ms = std::max(o.b.max_latency_ms, latency_ms);
    }
    if (!failure.empty()) {
      if (o.b.failures++ == 0) o.b.reason = failure;
      o.fail_end = std::max(o.fail_end, end_ms);
    }
  }
  // Hands over, oldest first, the buckets that are over: before the one `scheduling_ms` falls in, nothing pending.
  void flush(double scheduling_ms, LoadSink& sink) {
    const int64_t current = std::isfinite(scheduling_ms) ? index_of(scheduling_ms) : INT64_MAX;
    while (!open_.empty() && open_.front().pending == 0 && first_ < current) {
      Open& o = open_.front();
      if (o.b.count > 0) {
        o.b.end_ms = o.b.failures ? o.fail_end : o.last_end;
        o.b.latency = SparseHistogram::from_bins(o.bins);
        sink.bucket(std::move(o.b));
      }
      o.bins.clear();
      spare_.push_back(std::move(o.bins));
      open_.pop_front();
      ++first_;
    }
  }

 private:
  struct Open {
    RequestBucket b;
    std::vector<uint32_t> bins;
    uint32_t pending = 0;
    double last_end = 0, fail_end = 0;
  };
  static int64_t index_of(double t_ms) { return static_cast<int64_t>(std::floor(t_ms / kBucketMs)); }
  Open& at(int64_t index) {
    if (open_.empty()) first_ = index;
    while (first_ + static_cast<int64_t>(open_.size()) <= index) {
      open_.emplace_back();
      if (!spare_.empty()) {
        open_.back().bins = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    return open_[static_cast<size_t>(index - first_)];
  }
  std::deque<Open> open_;
  // The bins vectors of flushed buckets, kept for the next ones: nothing allocated and freed per bucket, which
  // would fragment the heap between the buckets' histograms that stay for the whole run.
  std::vector<std::vector<uint32_t>> spare_;
  int64_t first_ = 0;
};

struct Transfer {
  CURL* easy = nullptr;
  double scheduled_ms = 0;
  std::string body;
};

class Loop {
 public:
  Loop(const LoadSpec& spec, const std::vector<curl_slist*>& headers, Clock::time_point epoch, LoadSink& sink)
      : spec_(spec), headers_(headers), epoch_(epoch), sink_(sink), multi_(curl_multi_init()) {
    if (spec.reuse && !spec.tcp) {
      curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, spec.pool_size);
      curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, spec.pool_size);
    }
  }
  ~Loop() {
    for (auto& t : transfers_) {
      curl_multi_remove_handle(multi_, t->easy);
      curl_easy_cleanup(t->easy);
    }
    curl_multi_cleanup(multi_);
  }

  void run(const std::atomic<bool>& stop) {
    const double period = 1000.0 / spec_.rate_per_s;
    const double t0 = now_ms();
    uint64_t n = 0;
    double next = t0;
    std::optional<double> stopped_at;
    for (;;) {
      double now = now_ms();
      if (!stopped_at && stop.load()) stopped_at = now;
      if (!stopped_at) {
        for (; next <= now; next = t0 + static_cast<double>(++n) * period) launch(n, next, now);
      } else if (in_flight_ == 0 || now > *stopped_at + static_cast<double>(spec_.timeout.count()) + 1000) {
        break;
      }
      int running = 0;
      curl_multi_perform(multi_, &running);
      drain();
      book_.flush(stopped_at ? INFINITY : next, sink_);
      const double wait = stopped_at ? 10 : next - now_ms();
      curl_multi_poll(multi_, nullptr, 0, static_cast<int>(std::clamp(std::ceil(wait), 0.0, 10.0)), nullptr);
    }
    abandon(now_ms());
    book_.flush(INFINITY, sink_);
  }

 private:
  double now_ms() const { return std::chrono::duration<double, std::milli>(Clock::now() - epoch_).count(); }

  void launch(uint64_t n, double scheduled, double now) {
    book_.scheduled(scheduled);
    if (in_flight_ >= spec_.max_in_flight) {
      fail_unsent(scheduled, now,
                  fmt::format("not sent: {} requests already in flight (max_in_flight)", spec_.max_in_flight));
      return;
    }
    Transfer* t = idle();
    t->scheduled_ms = scheduled;
    t->body.clear();
    const size_t which = spec_.pick(n);
    spec_.configure(t->easy, spec_.requests[which], headers_[which], &t->body);
    if (CURLMcode rc = curl_multi_add_handle(multi_, t->easy); rc != CURLM_OK) {
      idle_.push_back(t);
      fail_unsent(scheduled, now, fmt::format("not sent: {}", curl_multi_strerror(rc)));
      return;
    }
    ++in_flight_;
  }

  void fail_unsent(double scheduled, double now, std::string reason) {
    book_.ended(scheduled, now, 0, false, reason);
    sink_.failed({scheduled, now, now - scheduled, std::move(reason)});
  }

  Transfer* idle() {
    if (!idle_.empty()) {
      Transfer* t = idle_.back();
      idle_.pop_back();
      if (!spec_.tcp) {
        curl_easy_reset(t->easy);  // keeps the handle's connection, clears its options (CURLOPT_PRIVATE too)
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
        return t;
      }
      curl_easy_cleanup(t->easy);  // a connect-only handle keeps its connection: a new one per connect
      t->easy = curl_easy_init();
      curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
      return t;
    }
    auto t = std::make_unique<Transfer>();
    t->easy = curl_easy_init();
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t.get());
    transfers_.push_back(std::move(t));
    return transfers_.back().get();
  }

  void drain() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode rc = msg->data.result;
      Transfer* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &t);
      const double end = now_ms(), latency = end - t->scheduled_ms;
      std::string failure = spec_.judge(easy, rc, t->body, latency);
      curl_multi_remove_handle(multi_, easy);
      --in_flight_;
      idle_.push_back(t);
      book_.ended(t->scheduled_ms, end, latency, true, failure);
      if (!failure.empty()) sink_.failed({t->scheduled_ms, end, latency, std::move(failure)});
    }
    trim_idle();
  }

  // Frees idle handles beyond twice the pool: after a burst in flight (a frozen backend: up to max_in_flight) the
  // rest of the run must not keep each handle's buffers (about 20 KiB) for nothing.
  void trim_idle() {
    const size_t keep = static_cast<size_t>(std::max<long>(spec_.pool_size, 16)) * 2;
    if (idle_.size() <= keep) return;
    std::vector<Transfer*> freed(idle_.begin() + static_cast<std::ptrdiff_t>(keep), idle_.end());
    idle_.resize(keep);
    std::sort(freed.begin(), freed.end());
    std::erase_if(transfers_, [&freed](const std::unique_ptr<Transfer>& t) {
      if (!std::binary_search(freed.begin(), freed.end(), t.get())) return false;
      curl_easy_cleanup(t->easy);
      return true;
    });
  }

  // At the end, requests still in flight past their timeout (should curl not have ended them) count as failed.
  void abandon(double now) {
    for (auto& t : transfers_) {
      if (std::find(idle_.begin(), idle_.end(), t.get()) != idle_.end()) continue;
      curl_multi_remove_handle(multi_, t->easy);
      const double latency = now - t->scheduled_ms;
      std::string reason = "still in flight when the probe stopped";
      book_.ended(t->scheduled_ms, now, latency, true, reason);
      sink_.failed({t->scheduled_ms, now, latency, std::move(reason)});
      idle_.push_back(t.get());
    }
    in_flight_ = 0;
  }

  const LoadSpec& spec_;
  const std::vector<curl_slist*>& headers_;
  Clock::time_point epoch_;
  LoadSink& sink_;
  CURLM* multi_;
  BucketBook book_;
  std::vector<std::unique_ptr<Transfer>> transfers_;
  std::vector<Transfer*> idle_;
  long in_flight_ = 0;
};

}  // namespace

void LoadProbe::run(Clock::time_point epoch, const std::atomic<bool>& stop, LoadSink& sink) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake on schedule, not 50 us late
  Loop loop(spec_, header_lists_, epoch, sink);
  loop.run(stop);
}

}  // namespace rebound
