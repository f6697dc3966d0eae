#pragma once
// When each chunk of data held in the proxy may leave: a pure function of the direction's shape, its pacing
// state and the time, so that it is tested without sockets.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>

#include "injectors/network/toxics/toxic.hpp"

namespace rebound {

// Data waiting to go out at `due` (microseconds on the loop's clock).
struct Segment {
  size_t bytes;
  int64_t due;
};

struct PacingState {
  int64_t last_due = 0;   // the due time of the last segment queued: none leaves before it
  int64_t rate_free = 0;  // when the rate allows the next byte out
};

// Splits `bytes` that arrived at `now` into segments appended to `queue`, each with the time it may leave:
// latency and jitter from its arrival, slicer delays between chunks, bandwidth pacing, and never before the
// segment ahead of it.
void pace(const FlowShape& shape, PacingState& state, std::deque<Segment>& queue, size_t bytes, int64_t now,
          std::mt19937_64& random);

// Releases what is held back at once (the toxics ended): every due time moves to `now` at the latest.
void release(PacingState& state, std::deque<Segment>& queue, int64_t now);

}  // namespace rebound
