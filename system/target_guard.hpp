#pragma once
// Which pids a target may resolve to: a pid within 1..pid_max, never rebound itself or the processes that
// started it, and never init or rebound's session leader unless the target says allow_init = true.
#include <set>
#include <string>
#include <sys/types.h>

#include "config/result.hpp"

namespace rebound {

// /proc/sys/kernel/pid_max, or the kernel's upper limit (4194304) when it cannot be read.
int64_t pid_max();

// "pids run from 1 to N (/proc/sys/kernel/pid_max)" when the value is no pid, else "".
std::string pid_range_problem(int64_t value);

struct ProtectedPids {
  std::set<pid_t> self_and_ancestors;  // never a target
  std::set<pid_t> init_and_session;    // pid 1 and rebound's session leader: only with allow_init
};
ProtectedPids protected_pids();

// Why rebound refuses this pid as a named target (pid or pidfile), or "" when it may act on it.
std::string refusal(pid_t pid, const ProtectedPids& protect, bool allow_init);

}  // namespace rebound
