#pragma once
// Targets: named things to act on, resolved to live processes through /proc.
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"

namespace rebound {

enum class TargetKind { pid, pidfile, exe, cmdline, cgroup, setup };

// The process a background [[setup]] step started: the runner records it when it starts the step, and a target
// `setup = "NAME"` resolves to it and its live descendants. Shared by every copy of the target's spec.
class SetupProcessSlot {
 public:
  struct Root {
    pid_t pid = 0;
    uint64_t start_time = 0;  // 0: it had exited before its start time could be read
  };
  void set(Root root);
  std::optional<Root> get() const;

 private:
  mutable std::mutex mutex_;
  std::optional<Root> root_;
};

// The blast radius: which of the matching processes a target selects.
enum class TargetPick { random, lowest_pids };

struct TargetSpec {
  std::string name;
  TargetKind kind = TargetKind::pid;
  std::string value;  // pid as text, pidfile path, executable name, cmdline regex, cgroup path or setup step name
  int64_t max_targets = 1;
  bool allow_init = false;  // may resolve to pid 1 or rebound's session leader
  int line = 0, column = 0;
  bool max_targets_set = false;  // given in the file: with count or percent it bounds the selection
  // count = N or percent = P (at most one): select that many of the matching processes (P% rounded down; 0 is an
  // error), at random unless pick = "lowest_pids". Without either, every match is selected (up to max_targets).
  std::optional<int64_t> count{};  // {}: aggregate initialisation without it need not name it
  std::optional<double> percent{};
  TargetPick pick = TargetPick::random;
  uint64_t seed = 0;  // the random draw's seed: from the file (`seed`), else drawn once when the file is loaded
  bool seed_given = false;
  std::shared_ptr<SetupProcessSlot> setup_process{};  // kind setup: where the runner records the step's process
};

struct ProcessInfo {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a pid apart from its reuse
  std::string comm;
  std::string cmdline;
};

const char* to_string(TargetKind kind);
// What follows "no target named 'web'": "; did you mean 'webs'?", the names there are when none is close, or
// what to add when there is none.
std::string target_name_hint(const std::string& name, const std::vector<TargetSpec>& targets);
nlohmann::json to_json(const TargetSpec& spec);
nlohmann::json to_json(const ProcessInfo& info);

// How a target with count or percent chose its processes, for the journal and --dry-run.
struct TargetDraw {
  bool drawn = false;  // false: no count or percent, every match was taken
  size_t matched = 0;
  std::vector<pid_t> selected;
  std::string how;  // "3 of 12 at random (seed 42)"
  nlohmann::json to_json() const;
};

// Every live process the target matches, never rebound itself or its ancestors, nor pid 1 or rebound's
// session leader unless the target allows it (a pid or pidfile naming one of those is an error); with count or
// percent, the processes drawn from them. An empty match, a percent that selects none, and a match (or, with
// count or percent and an explicit max_targets, a selection) larger than max_targets are errors.
Result<std::vector<ProcessInfo>> resolve_target(const TargetSpec& spec, TargetDraw* draw = nullptr);
// The draw alone: `n` of `matched` (sorted by pid), at random with `seed` or lowest pids first; sorted by pid.
std::vector<ProcessInfo> draw_processes(const std::vector<ProcessInfo>& matched, size_t n, TargetPick pick,
                                        uint64_t seed);
// Like resolve_target, without the count checks.
Result<std::vector<ProcessInfo>> match_target(const TargetSpec& spec);

// "the process setup step 'X' starts (and its descendants)" for a setup target whose step has not run yet
// (--dry-run, or before setup), else "".
std::string not_started_yet(const TargetSpec& spec);
// The start time of a live process (/proc/PID/stat field 22), for SetupProcessSlot.
std::optional<uint64_t> process_start_time(pid_t pid);

std::optional<ProcessInfo> read_process(pid_t pid);
// True while the pid is alive and is still the same process (same start time), zombies excluded.
bool process_is(pid_t pid, uint64_t start_time);
// The state letter from /proc/PID/stat ('R', 'S', 'T' for stopped, 'Z'...), or 0 if gone.
char process_state(pid_t pid);

}  // namespace rebound
