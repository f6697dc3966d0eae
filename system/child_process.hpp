#pragma once
// Starting a child the way a daemon manager would: its own process group, default signal dispositions and
// an empty signal mask (rebound ignores SIGPIPE and its threads block signals), stdin from /dev/null, and no
// descriptor of rebound's beyond 0, 1 and 2. fork and exec only: nothing between them allocates.
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"
#include "system/fd.hpp"

namespace rebound {

struct ChildOptions {
  std::string exe;                // a path (see find_program)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "KEY=value"
  std::string cwd;                // empty: rebound's
  int stdout_fd = -1, stderr_fd = -1;  // rebound's descriptors to give as 1 and 2; -1: /dev/null
  int death_signal = 0;                // PR_SET_PDEATHSIG (sent when the thread that started it ends)
  // An open cgroup.procs file (cgroup v2) the child moves itself into before exec, so that nothing it runs or
  // forks ever runs outside that cgroup; -1: rebound's cgroup.
  int cgroup_procs_fd = -1;
  // Written to /proc/self/oom_score_adj before exec ("-999": the OOM killer's last choice); empty: inherited.
  std::string oom_score_adj;
};

// Starts the child as the leader of a new process group (its pid is the group's id). An exec failure is
// reported here, with the errno, not as an exit code.
[[nodiscard]] Result<pid_t> start_child(const ChildOptions& options);

// The program's path: `name` itself when it holds a '/', else the first executable match in PATH.
[[nodiscard]] Result<std::string> find_program(const std::string& name);

// rebound's environment with `overrides` applied.
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides);

// A process that ends `pgid`'s group (SIGTERM, then SIGKILL after `grace_ms`) once rebound is gone, however
// it ended (SIGKILL included): it waits for EOF on a pipe whose write end only rebound holds.
class GroupKeeper {
 public:
  static Result<GroupKeeper> start(pid_t pgid, int grace_ms);
  GroupKeeper() = default;
  GroupKeeper(GroupKeeper&& other) noexcept;
  GroupKeeper& operator=(GroupKeeper&& other) noexcept;
  ~GroupKeeper();
  // Ends the keeper without touching the group: for rebound's own orderly stop.
  void dismiss();

 private:
  pid_t pid_ = -1;
  Fd pipe_;  // the keeper ends the group at EOF on its end
};

}  // namespace rebound
