#pragma once
// Targets: named things to act on, resolved to live processes through /proc.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"

namespace rebound {

enum class TargetKind { pid, pidfile, exe, cmdline, cgroup };

struct TargetSpec {
  std::string name;
  TargetKind kind = TargetKind::pid;
  std::string value;  // pid as text, pidfile path, executable name, cmdline regex or cgroup path
  int64_t max_targets = 1;
  bool allow_init = false;  // may resolve to pid 1 or rebound's session leader
  int line = 0, column = 0;
};

struct ProcessInfo {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a pid apart from its reuse
  std::string comm;
  std::string cmdline;
};

const char* to_string(TargetKind kind);
nlohmann::json to_json(const TargetSpec& spec);
nlohmann::json to_json(const ProcessInfo& info);

// Every live process the target matches, never rebound itself or its ancestors, nor pid 1 or rebound's
// session leader unless the target allows it (a pid or pidfile naming one of those is an error).
// An empty match and a match larger than max_targets are errors.
Result<std::vector<ProcessInfo>> resolve_target(const TargetSpec& spec);
// Like resolve_target, without the count checks.
Result<std::vector<ProcessInfo>> match_target(const TargetSpec& spec);

std::optional<ProcessInfo> read_process(pid_t pid);
// True while the pid is alive and is still the same process (same start time), zombies excluded.
bool process_is(pid_t pid, uint64_t start_time);
// The state letter from /proc/PID/stat ('R', 'S', 'T' for stopped, 'Z'...), or 0 if gone.
char process_state(pid_t pid);

}  // namespace rebound
