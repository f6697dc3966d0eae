#include "system/subprocess.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <fmt/format.h>
#include <optional>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "system/child_process.hpp"

using Clock = std::chrono::steady_clock;

namespace rebound {

namespace {

// After the command exits, output still in flight is read for this long at most: a grandchild it left in
// the background may hold the pipes open for good.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(100);

Result<ChildOptions> prepare(const CommandSpec& captured) {
  auto resolved = resolve_captures(captured);  // ${step.NAME.key} from earlier commands of this run
  if (!resolved) return resolved.error();
  const CommandSpec& spec = *resolved;
  ChildOptions o;
  o.argv = spec.argv;
  if (spec.shell) o.argv = {"/bin/sh", "-c", spec.argv.at(0)};
  auto exe = find_program(o.argv.at(0));
  if (!exe) return exe.error();
  o.exe = *exe;
  o.env = child_environment({spec.env.begin(), spec.env.end()});
  o.cwd = spec.cwd;
  return o;
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto nl = text.rfind('\n');
  std::string line = nl == std::string::npos ? text : text.substr(nl + 1);
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

// The read end of a pipe whose write end the child gets.
struct OutputPipe {
  Pipe ends;
  std::string text;
  bool open() {
    if (!open_pipe(ends, O_CLOEXEC)) return false;
    // Only our end is non-blocking: a child whose stdout is non-blocking fails its writes with EAGAIN
    // whenever the pipe is full ("tr: write error").
    return fcntl(ends.read.get(), F_SETFL, O_NONBLOCK) == 0;
  }
  // Reads what is there; false at EOF (or an error).
  bool drain() {
    char buf[16384];
    for (;;) {
      ssize_t n = read(ends.read.get(), buf, sizeof buf);
      if (n > 0) text.append(buf, static_cast<size_t>(n));
      else if (n < 0 && errno == EINTR) continue;
      else return n < 0 && errno == EAGAIN;
    }
  }
};

// Waits for the child by pid without reaping it; true once it has exited.
bool exited(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Whether a live (not zombie) process is in the group: an orphan's zombie waits for whoever reaps orphans,
// and kill(-pgid, 0) still finds it.
bool group_alive(pid_t pgid) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(line.substr(paren + 2));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z' && state != 'X') return true;
  }
  return false;
}

int reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

bool CommandOutcome::as_expected(const CommandSpec& spec) const {
  if (timed_out || aborted || !capture_error.empty()) return false;
  if (!spec.expect_exit) return true;
  return exit_code == *spec.expect_exit;
}

std::string CommandOutcome::summary(const CommandSpec& spec) const {
  std::string what;
  if (timed_out) what = fmt::format("timed out after {}", format_duration(spec.timeout));
  else if (aborted) what = "stopped: experiment aborted";
  else if (term_signal) what = fmt::format("killed by signal {}", term_signal);
  else what = fmt::format("exit {}", exit_code);
  if (spec.expect_exit && !timed_out && !aborted && exit_code != *spec.expect_exit)
    what += fmt::format(", expected {}", *spec.expect_exit);
  if (!capture_error.empty()) return what + "; " + capture_error;
  std::string tail = last_line(err.empty() ? out : err);
  if (!tail.empty()) what += ": " + tail;
  return what;
}

Result<CommandOutcome> run_command(const CommandSpec& spec, const std::function<bool()>& should_abort) {
  auto options = prepare(spec);
  if (!options) return options.error();
  OutputPipe out, err;
  if (!out.open() || !err.open()) return fail_errno(fmt::format("cannot start {}: pipe", options->exe));
  options->stdout_fd = out.ends.write.get();
  options->stderr_fd = err.ends.write.get();
  const auto started = Clock::now();
  auto child = start_child(*options);
  out.ends.write.reset();  // the child has its copies: EOF comes when it (and its children) close them
  err.ends.write.reset();
  if (!child) return child.error();
  const pid_t pid = *child;
  CommandOutcome outcome;
  const auto deadline = started + std::chrono::duration_cast<Clock::duration>(spec.timeout);
  std::optional<Clock::time_point> ended;  // when the child exited
  bool out_open = true, err_open = true;
  for (;;) {
    pollfd fds[2] = {{out_open ? out.ends.read.get() : -1, POLLIN, 0}, {err_open ? err.ends.read.get() : -1, POLLIN, 0}};
    poll(fds, 2, 20);
    if (out_open) out_open = out.drain();
    if (err_open) err_open = err.drain();
    const auto now = Clock::now();
    if (!ended && exited(pid)) ended = now;
    // Done when it exited and its output ended (or a grandchild holds the pipes past a short drain).
    if (ended && ((!out_open && !err_open) || now - *ended >= kDrainAfterExit)) break;
    if (ended) continue;
    const bool expired = now >= deadline;
    const bool abort = should_abort && should_abort();
    if (expired || abort) {
      outcome.timed_out = expired && !abort;
      outcome.aborted = abort;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);  // in case it left its group
      break;
    }
  }
  const int status = reap(pid);
  if (!ended) {  // killed: what it wrote before
    if (out_open) out.drain();
    if (err_open) err.drain();
  }
  outcome.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (WIFSIGNALED(status)) outcome.term_signal = WTERMSIG(status);
  else outcome.exit_code = WEXITSTATUS(status);
  outcome.out = std::move(out.text);
  outcome.err = std::move(err.text);
  if (!spec.capture.empty() && outcome.as_expected(spec)) {
    auto got = take_captures(spec, outcome.out);
    if (got) outcome.captured = std::move(*got);
    else outcome.capture_error = got.error().message;
  }
  return outcome;
}

struct BackgroundProcess::Impl {
  pid_t pid = -1;
  std::optional<int> status;  // once reaped
  GroupKeeper keeper;         // ends the group if rebound dies, by any signal
};

BackgroundProcess::BackgroundProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BackgroundProcess>> BackgroundProcess::start(const CommandSpec& spec,
                                                                   const std::string& log_path) {
  auto options = prepare(spec);
  if (!options) return options.error();
  Fd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log) return fail_errno(fmt::format("cannot open {} for the output of {}", log_path, options->exe));
  options->stdout_fd = options->stderr_fd = log.get();
  options->death_signal = SIGTERM;  // if rebound dies, the system it started does not linger
  auto child = start_child(*options);
  log.reset();
  if (!child) return child.error();
  auto impl = std::make_unique<Impl>();
  impl->pid = *child;
  auto keeper = GroupKeeper::start(*child, 3000);
  if (!keeper) {
    kill(-*child, SIGKILL);
    reap(*child);
    return keeper.error();
  }
  impl->keeper = std::move(*keeper);
  return std::unique_ptr<BackgroundProcess>(new BackgroundProcess(std::move(impl)));
}

BackgroundProcess::~BackgroundProcess() {
  if (impl_) stop();
}

pid_t BackgroundProcess::pid() const { return impl_->pid; }

bool BackgroundProcess::running() {
  // Not reaped here: an unreaped leader keeps its pid, and so the group's id, from being reused before stop().
  return impl_->pid > 0 && !impl_->status && !exited(impl_->pid);
}

std::string BackgroundProcess::stop(Millis grace) {
  if (impl_->pid <= 0) return "not started";
  if (impl_->status) return "stopped";
  impl_->keeper.dismiss();  // rebound ends the group itself from here on
  const pid_t pid = impl_->pid;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(grace);
  std::string how;
  if (exited(pid)) {
    const int status = reap(pid);
    how = WIFSIGNALED(status) ? fmt::format("had exited (signal {})", WTERMSIG(status))
                              : fmt::format("had exited (exit {})", WEXITSTATUS(status));
    impl_->status = status;
  } else {
    kill(-pid, SIGTERM);
    kill(-pid, SIGCONT);  // a stopped group cannot act on SIGTERM
    while (!exited(pid) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    how = "stopped with SIGTERM";
    if (!exited(pid)) {
      kill(-pid, SIGKILL);
      how = fmt::format("did not stop within {}; killed", format_duration(grace));
    }
    impl_->status = reap(pid);
  }
  // What it left in its group (a shell's background jobs) goes too.
  if (kill(-pid, SIGTERM) == 0) {
    how += "; what it left in its process group was stopped too";
    kill(-pid, SIGCONT);
    while (group_alive(pid) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(-pid, SIGKILL);
  }
  return how;
}

}  // namespace rebound
