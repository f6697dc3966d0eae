#pragma once
// The guardian: makes revert independent of rebound surviving.
//
// Before anything else (no thread, no fault, no BPF object yet), `rebound run`, `gameday` and `schedule` start
// a small process: a fork, setsid, a second fork (so that it is nobody's child: no runner, shell or test waits
// for it) and an exec of rebound itself with the hidden subcommand `__guardian`. It keeps nothing of rebound's:
// stdin, stdout and stderr are /dev/null (a pipeline reading rebound's output sees EOF when rebound ends), every
// other descriptor is closed except a pidfd of rebound, it has its own session and process group and ignores
// SIGINT, SIGTERM and SIGHUP (a Ctrl-C or a `kill -TERM -PGID` reaches rebound, which reverts by itself). It
// then waits on the pidfd. When rebound ends, by any signal (SIGKILL, SIGSEGV, abort) or normally, the guardian
// runs the recovery of the records rebound wrote (and no one else's), writes a `crashed` journal for each
// experiment that was running, and exits; after a clean exit there is nothing to do and it exits quietly.
//
// Its loop is one poll over the pidfd with a timeout: between wake-ups for rebound's end it enforces the hard
// deadline of every lasting fault rebound applied (duration + margin, written into the fault's record): a fault
// past it is reverted by the guardian even though rebound still lives (its main thread hung, or it was stopped).
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "system/fault_record.hpp"
#include "config/result.hpp"

namespace rebound {

// The hidden subcommand that runs the guardian: rebound __guardian PID START_TIME STATE_DIR.
constexpr const char* kGuardianCommand = "__guardian";

// rebound's side: starts the guardian for this process and waits (up to 2 s) until it watches. Its pid.
[[nodiscard]] Result<pid_t> start_guardian(const std::string& state_dir);

// How the watched rebound ended, as far as /proc tells before its parent reaps it.
struct ParentEnd {
  RecordOwner parent;
  std::optional<int> signal;     // the signal that killed it
  std::optional<int> exit_code;  // its exit code, when it exited
  bool watched_by_pidfd = false; // false: by looking at /proc every 20 ms
  std::string describe() const;  // "killed by SIGSEGV", "exited with code 4", "ended"
};

// How it ended, from its zombie's stat file (field 52, exit_code) before it is reaped; "ended" when the file
// cannot be read (reaped already). Never throws: the guardian must not die of a race with the reaper.
ParentEnd read_parent_end(const RecordOwner& parent, const std::string& stat_path);

struct GuardianArgs {
  RecordOwner parent;
  std::string state_dir;
};
// Parses the subcommand's arguments (argv[1] is kGuardianCommand).
std::optional<GuardianArgs> parse_guardian_args(int argc, char** argv);

// The guardian's side: waits until the parent ends, calls `on_end` once, returns the process's exit code.
// `on_watch` is called once it watches, with how ("pidfd" or "/proc"). `on_timer` is called at each wake-up
// while the parent lives and returns how many ms the guardian may sleep before calling it again.
int run_guardian(const GuardianArgs& args, const std::function<void(const char*)>& on_watch,
                 const std::function<int()>& on_timer, const std::function<int(const ParentEnd&)>& on_end);

}  // namespace rebound
