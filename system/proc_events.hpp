#pragma once
// Process events from the kernel's proc connector (NETLINK_CONNECTOR, CN_IDX_PROC): a wake-up when a process
// forks or execs, so that a step that follows its target looks again at once rather than at its next interval.
// Needs CAP_NET_ADMIN and a kernel with CONFIG_PROC_EVENTS; where open() fails, the caller polls.
#include "config/result.hpp"
#include "system/fd.hpp"

namespace rebound {

class ProcEvents {
 public:
  [[nodiscard]] static Result<ProcEvents> open();
  ProcEvents(ProcEvents&&) noexcept = default;
  ProcEvents& operator=(ProcEvents&&) noexcept = default;
  ~ProcEvents();  // tells the kernel this listener is gone (PROC_CN_MCAST_IGNORE)
  // Waits up to timeout_ms for a fork or exec; true when one came. Reads every event that is pending.
  bool wait(int timeout_ms);

 private:
  explicit ProcEvents(Fd fd) : fd_(std::move(fd)) {}
  bool drain();  // reads what is pending; true if it held a fork or exec
  static bool send_op(int fd, int op);
  Fd fd_;
};

}  // namespace rebound
