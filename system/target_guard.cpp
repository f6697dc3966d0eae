#include "system/target_guard.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace rebound {

int64_t pid_max() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  int64_t max = 0;
  if (in >> max && max > 1) return max;
  return 4194304;  // PID_MAX_LIMIT on 64-bit kernels
}

std::string pid_range_problem(int64_t value) {
  const int64_t max = pid_max();
  if (value >= 1 && value <= max) return "";
  return fmt::format("pids run from 1 to {} (/proc/sys/kernel/pid_max)", max);
}

static pid_t parent_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::stringstream s;
  s << in.rdbuf();
  const std::string stat = s.str();
  auto close = stat.rfind(')');  // comm may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  char state = 0;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return rest ? ppid : 0;
}

ProtectedPids protected_pids() {
  ProtectedPids out;
  for (pid_t p = getpid(); p > 1 && out.self_and_ancestors.insert(p).second;) p = parent_of(p);
  out.init_and_session.insert(1);
  if (pid_t sid = getsid(0); sid > 0 && !out.self_and_ancestors.count(sid)) out.init_and_session.insert(sid);
  return out;
}

std::string refusal(pid_t pid, const ProtectedPids& protect, bool allow_init) {
  if (pid == getpid()) return fmt::format("pid {} is rebound itself", pid);
  if (protect.self_and_ancestors.count(pid))
    return fmt::format("pid {} started rebound (one of its parent processes); rebound never acts on those", pid);
  if (allow_init || !protect.init_and_session.count(pid)) return "";
  if (pid == 1)
    return "pid 1 is init: a fault there stops the whole system; set allow_init = true on the target if you "
           "mean it";
  return fmt::format("pid {} leads rebound's session (its login shell or terminal); set allow_init = true on the "
                     "target if you mean it",
                     pid);
}

}  // namespace rebound
