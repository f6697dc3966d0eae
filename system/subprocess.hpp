#pragma once
// Runs commands: argv without a shell, a timeout that bounds the time taken, captured output, each child in
// its own process group (so a terminal's Ctrl-C reaches rebound alone) and started as child_process.hpp says.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>

#include "config/command_spec.hpp"
#include "config/result.hpp"

namespace rebound {

struct CommandOutcome {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;    // the signal that ended it, if any
  bool timed_out = false;
  bool aborted = false;   // stopped because the experiment was aborted
  std::string out, err;
  double duration_ms = 0;
  std::map<std::string, std::string> captured;  // the spec's capture values, taken from `out`
  std::string capture_error;                    // a capture pattern that did not match
  // True when it ended as the spec expects (exit code, not timed out, every capture found).
  bool as_expected(const CommandSpec& spec) const;
  // One line: "exit 3, expected 0: <last stderr line>".
  std::string summary(const CommandSpec& spec) const;
};

// Runs until the command exits (reaped by pid: output a background grandchild still holds open is read for
// 100 ms more at most), or until the timeout or should_abort() (polled every 20 ms), when its process group
// is killed. What it left running in the background after a normal exit is left alone, as a shell would.
Result<CommandOutcome> run_command(const CommandSpec& spec, const std::function<bool()>& should_abort = {});

// A setup command that runs until teardown, as the leader of its own process group. stop() ends the whole
// group (a shell's background jobs too); if rebound dies, by any signal, a keeper process ends it instead.
class BackgroundProcess {
 public:
  static Result<std::unique_ptr<BackgroundProcess>> start(const CommandSpec& spec, const std::string& log_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  pid_t pid() const;
  bool running();
  // SIGTERM to its process group, SIGKILL after `grace`; then the same for what is left in the group.
  // Returns how it ended.
  std::string stop(Millis grace = Millis(3000));

 private:
  struct Impl;
  explicit BackgroundProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rebound
