#include "injectors/network/proxy_pacing.hpp"

#include <algorithm>

namespace rebound {

void pace(const FlowShape& e, PacingState& state, std::deque<Segment>& queue, size_t bytes, int64_t now,
          std::mt19937_64& random) {
  size_t piece_limit = bytes;
  if (e.rate > 0) piece_limit = std::max<size_t>(1024, static_cast<size_t>(e.rate / 100));  // 10 ms of data
  int64_t offset = e.latency_us;
  if (e.jitter_us > 0) offset += std::uniform_int_distribution<int64_t>(-e.jitter_us, e.jitter_us)(random);
  int64_t base = now + std::max<int64_t>(offset, 0);
  bool first = true;
  while (bytes > 0) {
    size_t piece = std::min(bytes, piece_limit);
    int64_t due = std::max(base, state.last_due);
    if (e.slice_average > 0) {
      int64_t size = e.slice_average;
      if (e.slice_variation > 0)
        size += std::uniform_int_distribution<int64_t>(-e.slice_variation, e.slice_variation)(random);
      piece = std::min(bytes, static_cast<size_t>(std::max<int64_t>(size, 1)));
      if (!first || !queue.empty()) due = std::max(due, state.last_due + e.slice_delay_us);
    }
    if (e.rate > 0) {
      due = std::max(due, state.rate_free);
      state.rate_free = due + static_cast<int64_t>(static_cast<double>(piece) * 1e6 / e.rate);
    }
    queue.push_back({piece, due});
    state.last_due = due;
    bytes -= piece;
    first = false;
  }
}

void release(PacingState& state, std::deque<Segment>& queue, int64_t now) {
  for (auto& s : queue) s.due = std::min(s.due, now);
  state.last_due = std::min(state.last_due, now);
  state.rate_free = 0;
}

}  // namespace rebound
