#pragma once
// One direction of a proxied connection: data spliced from one socket into pipes that hold it back, and out
// into the other socket when its time comes. No byte is copied into rebound.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/proxy_pacing.hpp"

namespace rebound {

// A pipe holding data back. `sealed`: it ran out of slots before its bytes (small TCP segments take a slot
// each), so nothing more goes in; it is dropped once drained.
struct HeldPipe {
  Fd read, write;
  size_t buffered = 0, capacity = 0;
  bool sealed = false;
  bool full() const { return sealed || buffered >= capacity; }
};

// `from` -> pipes -> `to`. Data goes into the last pipe and out of the first; a buffer larger than the host's
// pipe size limit (fs.pipe-max-size), or segments too small to fill a pipe's slots, make a chain of pipes.
struct Flow {
  int from = -1, to = -1;
  std::vector<HeldPipe> pipes;      // a few at most: a vector is lighter than a deque per connection
  size_t budget = 0, buffered = 0;  // budget: the most this direction may hold back
  size_t max_pipes = 0;             // set with the first pipe
  std::deque<Segment> queue;
  PacingState pacing;
  bool eof = false, shut = false, pipe_full = false, write_blocked = false;
  int64_t eof_due = kNoDeadline;
  uint64_t forwarded = 0;
  FlowShape shape;
  bool wants_read() const { return !eof && !pipe_full && buffered < budget; }
  bool holds_data() const { return buffered > 0; }
};

// Starts the flow with its first pipe; false when the process is out of descriptors.
bool open_flow(Flow& f, int from, int to, size_t budget);

enum class PumpResult {
  ok,
  reset,   // the peer reset or a socket failed: pass it on as a reset
  closed,  // the byte limit was reached: the connection ends here
};
// Reads what `from` has (within the budget) and sends what is due by `now`; passes the close on when due.
PumpResult pump(Flow& f, int64_t now, std::mt19937_64& random);

}  // namespace rebound
