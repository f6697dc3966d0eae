#include "injectors/network/proxy_flow.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "injectors/network/toxic_proxy.hpp"

namespace rebound {

namespace {

// The largest pipe this process may make: the buffer it was asked for, or fs.pipe-max-size without
// CAP_SYS_RESOURCE. Learned from the first refusal.
std::atomic<size_t> g_pipe_limit{SIZE_MAX};

// A new pipe of up to `wanted` bytes; false at the flow's pipe cap or when the process is out of descriptors.
bool add_pipe(Flow& f, size_t wanted) {
  if (f.max_pipes > 0 && f.pipes.size() >= f.max_pipes) return false;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  HeldPipe pipe;
  pipe.read = Fd(fds[0]);
  pipe.write = Fd(fds[1]);
  size_t size = std::min(wanted, g_pipe_limit.load());
  int got = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(size));
  if (got < 0 && errno == EPERM) {
    std::ifstream max_size("/proc/sys/fs/pipe-max-size");
    size_t limit = 0;
    if (max_size >> limit && limit > 0 && limit < size) {
      g_pipe_limit = limit;
      got = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(limit));
    }
  }
  pipe.capacity = static_cast<size_t>(got > 0 ? got : fcntl(fds[1], F_GETPIPE_SZ));
  if (f.max_pipes == 0) {
    // Small segments take a slot each and seal a pipe early: allow twice the pipes the budget needs at full
    // pipes, and never fewer than kMaxPipesPerFlow.
    size_t needed = (f.budget + pipe.capacity - 1) / pipe.capacity;
    f.max_pipes = std::max(ToxicProxy::kMaxPipesPerFlow, 2 * needed);
  }
  f.pipes.push_back(std::move(pipe));
  return true;
}

// In: from the socket into the pipes (or, under a timeout toxic, nowhere).
PumpResult pump_in(Flow& f, int64_t now, std::mt19937_64& random) {
  while (!f.eof && !f.pipe_full) {
    ssize_t n;
    if (f.shape.discard) {
      char sink[4096];
      n = recv(f.from, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC);
      if (n > 0) continue;
    } else {
      size_t room = f.budget - f.buffered;
      if (room == 0) break;
      if (f.pipes.empty() || f.pipes.back().full()) {
        // Every pipe as large as the budget allows (one sized to what is left would hold a segment or two),
        // and at most max_pipes of them: then reading stops until one drains, and TCP pushes back on the
        // sender. Also when the process is out of descriptors.
        if (!add_pipe(f, f.budget)) {
          f.pipe_full = true;
          break;
        }
      }
      HeldPipe& tail = f.pipes.back();
      n = splice(f.from, nullptr, tail.write.get(), nullptr, std::min(room, tail.capacity - tail.buffered),
                 SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n > 0) {
        tail.buffered += static_cast<size_t>(n);
        f.buffered += static_cast<size_t>(n);
        pace(f.shape, f.pacing, f.queue, static_cast<size_t>(n), now, random);
        continue;
      }
    }
    if (n == 0) {
      f.eof = true;
      // Under a timeout toxic the close does not get through either: the connection hangs until `after`.
      f.eof_due = f.shape.discard ? kNoDeadline : std::max(now, f.pacing.last_due) + f.shape.close_delay_us;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      // Either nothing to read or the last pipe ran out of slots: in the second case, seal it and go on into
      // a new one (within the budget and the pipe cap).
      int waiting = 0;
      if (!f.shape.discard && f.pipes.back().buffered > 0 && ioctl(f.from, FIONREAD, &waiting) == 0 && waiting > 0) {
        f.pipes.back().sealed = true;
        continue;
      }
      break;
    }
    return PumpResult::reset;
  }
  return PumpResult::ok;
}

// Out: segments whose time has come, from the pipes into the other socket.
PumpResult pump_out(Flow& f, int64_t now) {
  f.write_blocked = false;
  while (!f.queue.empty() && f.queue.front().due <= now) {
    Segment& s = f.queue.front();
    size_t allowed = f.shape.limit == UINT64_MAX ? s.bytes : std::min<uint64_t>(s.bytes, f.shape.limit - f.forwarded);
    if (allowed == 0) break;
    HeldPipe& head = f.pipes.front();
    if (head.buffered == 0) {  // cannot happen while segments wait, but a zero-length splice would read as EOF
      if (f.pipes.size() < 2) break;
      f.pipes.erase(f.pipes.begin());
      continue;
    }
    ssize_t n = splice(head.read.get(), nullptr, f.to, nullptr, std::min(allowed, head.buffered),
                       SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
      head.buffered -= static_cast<size_t>(n);
      f.buffered -= static_cast<size_t>(n);
      f.forwarded += static_cast<uint64_t>(n);
      s.bytes -= static_cast<size_t>(n);
      if (s.bytes == 0) f.queue.pop_front();
      // A drained pipe goes, unless it is the one data flows into; then reading may go on.
      if (head.buffered == 0 && (f.pipes.size() > 1 || head.sealed)) {
        f.pipes.erase(f.pipes.begin());
        f.pipe_full = false;
      }
      if (!f.pipes.empty() && !f.pipes.back().full()) f.pipe_full = false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      f.write_blocked = true;
      break;
    }
    return PumpResult::reset;
  }
  if (f.shape.limit != UINT64_MAX && f.forwarded >= f.shape.limit) return PumpResult::closed;
  // A close goes on once the data ahead of it has left (and, under slow_close, after its delay).
  if (f.eof && !f.shut && f.queue.empty() && now >= f.eof_due) {
    shutdown(f.to, SHUT_WR);
    f.shut = true;
  }
  return PumpResult::ok;
}

}  // namespace

bool open_flow(Flow& f, int from, int to, size_t budget) {
  f.from = from;
  f.to = to;
  f.budget = budget;
  return add_pipe(f, budget);
}

PumpResult pump(Flow& f, int64_t now, std::mt19937_64& random) {
  if (auto r = pump_in(f, now, random); r != PumpResult::ok) return r;
  return pump_out(f, now);
}

}  // namespace rebound
