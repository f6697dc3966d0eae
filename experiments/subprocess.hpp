#pragma once
// Runs commands with Boost.Process: argv without a shell, a timeout, captured output,
// each child in its own process group so a terminal's Ctrl-C reaches rebound alone.
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>

#include "experiments/command_spec.hpp"
#include "experiments/result.hpp"

namespace rebound {

struct CommandOutcome {
  int exit_code = -1;     // -1 when killed by a signal
  int term_signal = 0;    // the signal that ended it, if any
  bool timed_out = false;
  bool aborted = false;   // stopped because the experiment was aborted
  std::string out, err;
  double duration_ms = 0;
  // True when it ended as the spec expects (exit code, not timed out).
  bool as_expected(const CommandSpec& spec) const;
  // One line: "exit 3, expected 0: <last stderr line>".
  std::string summary(const CommandSpec& spec) const;
};

// Runs to completion, or until the timeout or should_abort() (polled every 20 ms).
Result<CommandOutcome> run_command(const CommandSpec& spec, const std::function<bool()>& should_abort = {});

// A setup command that runs until teardown. The child gets SIGTERM if rebound dies.
class BackgroundProcess {
 public:
  static Result<std::unique_ptr<BackgroundProcess>> start(const CommandSpec& spec, const std::string& log_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  pid_t pid() const;
  bool running();
  // SIGTERM to its process group, SIGKILL after `grace`. Returns how it ended.
  std::string stop(Millis grace = Millis(3000));

 private:
  struct Impl;
  explicit BackgroundProcess(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rebound
