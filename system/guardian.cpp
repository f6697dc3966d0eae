#include "system/guardian.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "system/fd.hpp"
#include "system/targets.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

constexpr int kPidfd = 3;       // where the guardian finds the pidfd of its parent
constexpr int kReadyFd = 4;     // where it writes its pid once it watches
constexpr int kPollNoPidfdMs = 20;  // without pidfd_open (kernels before 5.3): how often it looks at /proc

// In the forked child: only async-signal-safe calls from here to exec.
[[noreturn]] void exec_guardian(int pidfd, int ready, char* const argv[]) {
  int null = open("/dev/null", O_RDWR);
  int moved_pidfd = pidfd >= 0 ? fcntl(pidfd, F_DUPFD, 10) : -1;
  int moved_ready = fcntl(ready, F_DUPFD, 10);
  if (null < 0 || moved_ready < 0) _exit(126);
  dup2(null, STDIN_FILENO);
  dup2(null, STDOUT_FILENO);
  dup2(null, STDERR_FILENO);
  // dup2 clears close-on-exec on the copies: these two, and 0-2, are all that cross the exec.
  if (moved_pidfd >= 0) dup2(moved_pidfd, kPidfd);
  else close(kPidfd);
  dup2(moved_ready, kReadyFd);
  if (syscall(SYS_close_range, kReadyFd + 1, ~0U, 0) != 0)
    for (int fd = kReadyFd + 1; fd < 65536; ++fd) close(fd);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) sigaction(sig, &ignore, nullptr);
  execv("/proc/self/exe", argv);
  _exit(127);
}

// True when fd is a pidfd of pid (its fdinfo says "Pid:\tPID").
bool is_pidfd_of(int fd, pid_t pid) {
  std::ifstream info(fmt::format("/proc/self/fdinfo/{}", fd));
  for (std::string line; std::getline(info, line);)
    if (line.starts_with("Pid:")) return std::atoi(line.c_str() + 4) == pid;
  return false;
}

}  // namespace

ParentEnd read_parent_end(const RecordOwner& parent, const std::string& stat_path) {
  ParentEnd end{parent, std::nullopt, std::nullopt};
  // getline, not istreambuf_iterator: the zombie may be reaped between open and read, and a read error inside
  // an iterator throws (ios_failure) where getline only sets badbit. The guardian must never die here.
  std::ifstream in(stat_path);
  std::string text;
  std::getline(in, text);
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return end;
  std::istringstream fields(text.substr(close_paren + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string field; fields >> field;) f.push_back(field);
  int status = 0;
  try {
    if (f.size() < 50 || f[0] != "Z" || std::stoull(f[19]) != parent.start_time) return end;
    status = std::stoi(f[49]);
  } catch (const std::exception&) {
    return end;
  }
  if (WIFSIGNALED(status)) end.signal = WTERMSIG(status);
  else if (WIFEXITED(status)) end.exit_code = WEXITSTATUS(status);
  return end;
}

namespace {

// Waits until the parent has ended; between wake-ups, runs the timer (the fault deadlines) when it is due.
void wait_for_parent(int pidfd, const RecordOwner& parent, const std::function<int()>& on_timer) {
  using Clock = std::chrono::steady_clock;
  auto timer_due = Clock::now();
  for (;;) {
    if (pidfd < 0 && !process_is(parent.pid, parent.start_time)) return;
    if (Clock::now() >= timer_due) timer_due = Clock::now() + std::chrono::milliseconds(std::max(1, on_timer()));
    auto until_timer = std::chrono::duration_cast<std::chrono::milliseconds>(timer_due - Clock::now()).count();
    int timeout = static_cast<int>(std::max<int64_t>(0, until_timer));
    if (pidfd < 0) timeout = std::min(timeout, kPollNoPidfdMs);
    pollfd p{pidfd, POLLIN, 0};
    int n = poll(&p, pidfd >= 0 ? 1 : 0, timeout);
    if (n > 0) return;
    if (n < 0 && errno != EINTR) pidfd = -1;  // cannot poll it: look at /proc instead
  }
}

}  // namespace

std::string ParentEnd::describe() const {
  if (signal) {
    const char* abbrev = sigabbrev_np(*signal);
    return abbrev ? fmt::format("killed by SIG{}", abbrev) : fmt::format("killed by signal {}", *signal);
  }
  if (exit_code) return fmt::format("exited with code {}", *exit_code);
  return "ended";
}

Result<pid_t> start_guardian(const std::string& state_dir) {
  const RecordOwner self = RecordOwner::self();
  if (!self.start_time) return fail("cannot read rebound's own start time from /proc");
  std::error_code ec;
  const std::string dir = fs::absolute(state_dir, ec).lexically_normal().string();
  // Everything the child needs is built before the fork: after it, no allocation.
  std::string exe = "rebound", pid = std::to_string(self.pid), start = std::to_string(self.start_time);
  std::string command = kGuardianCommand;
  char* const argv[] = {exe.data(), command.data(), pid.data(), start.data(), const_cast<char*>(dir.c_str()), nullptr};
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, self.pid, 0)));  // none before Linux 5.3: the guardian polls
  Pipe ready;
  if (!open_pipe(ready, O_CLOEXEC)) return fail_errno("cannot start the guardian: pipe");
  pid_t first = fork();
  if (first == 0) {
    // Its own session and group, then a second fork: the guardian is no one's child (init or the nearest
    // subreaper adopts it), so no runner, shell or test waits for it.
    setsid();
    pid_t second = fork();
    if (second != 0) _exit(second < 0 ? 1 : 0);
    exec_guardian(pidfd.get(), ready.write.get(), argv);
  }
  int saved_errno = errno;
  ready.write.reset();
  pidfd.reset();
  if (first < 0) return fail(fmt::format("cannot start the guardian: fork: {}", std::strerror(saved_errno)));
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t guardian = 0;
  pollfd p{ready.read.get(), POLLIN, 0};
  int n = 0;
  while ((n = poll(&p, 1, 2000)) < 0 && errno == EINTR) {
  }
  bool ok = n > 0 && read(ready.read.get(), &guardian, sizeof guardian) == static_cast<ssize_t>(sizeof guardian);
  if (!ok) return fail("the guardian did not start within 2 s (see STATE/guardian.log)");
  return guardian;
}

std::optional<GuardianArgs> parse_guardian_args(int argc, char** argv) {
  if (argc != 5 || std::string(argv[1]) != kGuardianCommand) return std::nullopt;
  try {
    GuardianArgs args{{static_cast<pid_t>(std::stoi(argv[2])), std::stoull(argv[3])}, argv[4]};
    if (args.parent.pid <= 1 || args.state_dir.empty() || args.state_dir[0] != '/') return std::nullopt;
    return args;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int run_guardian(const GuardianArgs& args, const std::function<void(const char*)>& on_watch,
                 const std::function<int()>& on_timer, const std::function<int(const ParentEnd&)>& on_end) {
  prctl(PR_SET_NAME, "rebound-guard");
  if (chdir("/") != 0) {
    // Stays where it is; it uses absolute paths only.
  }
  // The descriptors rebound handed over at fixed numbers are the guardian's to close.
  Fd inherited_pidfd(kPidfd);
  Fd ready(kReadyFd);
  const int pidfd = is_pidfd_of(inherited_pidfd.get(), args.parent.pid) ? inherited_pidfd.get() : -1;
  if (pidfd < 0) inherited_pidfd.reset();
  pid_t me = getpid();
  if (write(ready.get(), &me, sizeof me) != static_cast<ssize_t>(sizeof me)) {
    // rebound gave up waiting; watch anyway.
  }
  ready.reset();
  on_watch(pidfd >= 0 ? "pidfd" : "/proc");
  wait_for_parent(pidfd, args.parent, on_timer);
  ParentEnd end = read_parent_end(args.parent, fmt::format("/proc/{}/stat", args.parent.pid));
  end.watched_by_pidfd = pidfd >= 0;
  inherited_pidfd.reset();
  return on_end(end);
}

}  // namespace rebound
