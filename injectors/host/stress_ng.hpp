#pragma once
// stress-ng, run the way every host fault runs it: placed before it starts (in the target's cgroup, or pinned to
// the target's CPUs), on record before it exists (a tag in its environment, so that `rebound recover` finds it and
// ends its process group), ended with its process group by revert, by a keeper process
// the moment rebound dies, and by its own --timeout as the last resort.
#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"
#include "injectors/step.hpp"
#include "system/child_process.hpp"

namespace rebound {

// Where a target's processes run: the cgroup folder of its CPU controller and of its memory controller (cgroup v2
// when the controller is on there, else the v1 hierarchy of a hybrid host; "" when neither holds it), and the
// CPUs it may run on.
struct TargetPlace {
  std::string cpu_cgroup, memory_cgroup;
  std::string memory_cgroup_name;  // memory_cgroup below its hierarchy's root ("/a/b"), as the kernel log names it
  std::string memory_root;         // where that hierarchy is mounted
  std::vector<int> cpus;
};
TargetPlace place_of(pid_t pid);

// CPU time (ns) and run-queue wait (ns) of a process so far, from /proc/PID/schedstat.
struct SchedTimes {
  uint64_t cpu_ns = 0, wait_ns = 0;
};
std::optional<SchedTimes> sched_times(pid_t pid);

// Bytes a group of processes moved: through read/write calls, and to or from the device (/proc/PID/io).
struct IoCounters {
  uint64_t written = 0, read = 0, device_written = 0, device_read = 0;
};

class StressNg {
 public:
  // stress-ng's path, or an error that says how to install it.
  static Result<std::string> program();
  // stress-ng's own --timeout for a step of `duration`: the last resort should rebound, its keeper and its
  // guardian all be gone.
  static int timeout_for(std::chrono::duration<double, std::milli> duration) {
    return static_cast<int>(duration.count() / 1000) + 10;
  }
  // For the registry (`rebound doctor`, dry runs): stress-ng is installed.
  static Result<void> available() {
    if (auto exe = program(); !exe) return exe.error();
    return {};
  }
  StressNg() = default;
  StressNg(const StressNg&) = delete;
  StressNg& operator=(const StressNg&) = delete;
  ~StressNg() { (void)stop(); }
  // Records the tag (context.record with `undo` plus the tag; an update when the step has its record already),
  // then starts stress-ng with `args` (after the
  // program name) inside `cgroup` when given, else pinned to `cpus` when given.
  Result<void> start(StepContext& context, nlohmann::json undo, const std::vector<std::string>& args,
                     const std::string& cgroup, const std::vector<int>& cpus, int timeout_s);
  // Before start: stress-ng leaves the OOM scores alone, and the stressors are the OOM killer's last choice when
  // rebound may lower scores (CAP_SYS_RESOURCE); else the kernel kills the largest process, as it would anyway.
  void spare_from_oom_killer() { spare_from_oom_ = true; }
  static bool can_lower_oom_scores();
  // Bytes resident in the stressors now (the proportional set size of every process of the group).
  uint64_t resident_bytes() const;
  // What the stressors have read and written so far.
  IoCounters io() const;
  // CPU time the stressors have used so far (every process of the group), in ns.
  uint64_t cpu_ns() const;
  // Waits until stress-ng has forked `stressors` stressors; the ms it took, or nullopt after `timeout`.
  std::optional<double> wait_running(size_t stressors, std::chrono::milliseconds timeout) const;
  // Ends the group (SIGTERM, then SIGKILL after 1 s) and reaps stress-ng; safe to call twice.
  Result<void> stop();
  // `rebound recover`: ends every process that carries the record's tag.
  static Result<std::string> recover(const nlohmann::json& undo);
  pid_t pid() const { return pid_; }
  // True while stress-ng itself runs (false once it has ended, killed or timed out; it is then reaped).
  bool running();

 private:
  std::vector<pid_t> group() const;  // live processes of stress-ng's group
  pid_t pid_ = -1;
  bool spare_from_oom_ = false;
  bool ended_ = false;  // reaped by running()
  std::optional<GroupKeeper> keeper_;
};

}  // namespace rebound
