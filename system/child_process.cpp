#include "system/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

namespace rebound {

namespace {

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// Marks every descriptor from `first` on close-on-exec (or closes them, when `close_them`). Async-signal-safe.
void drop_descriptors(int first, bool close_them) {
  if (syscall(SYS_close_range, first, ~0U, close_them ? 0U : CLOSE_RANGE_CLOEXEC) == 0) return;
  long limit = sysconf(_SC_OPEN_MAX);
  if (limit < 0 || limit > 65536) limit = 65536;
  for (int fd = first; fd < limit; ++fd) {
    if (close_them) close(fd);
    else fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

// In the child, between fork and exec: only async-signal-safe calls. Reports errno on `error_fd`.
[[noreturn]] void exec_child(const ChildOptions& o, char* const* argv, char* const* envp, pid_t parent, int error_fd) {
  auto die = [&](int err) {
    while (write(error_fd, &err, sizeof err) < 0 && errno == EINTR) {
    }
    _exit(127);
  };
  setpgid(0, 0);
  if (o.cgroup_procs_fd >= 0 && write(o.cgroup_procs_fd, "0", 1) != 1) die(errno);  // "0": the writer itself
  if (!o.oom_score_adj.empty()) {
    const int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj < 0 || write(adj, o.oom_score_adj.data(), o.oom_score_adj.size()) < 0) die(errno);
    close(adj);
  }
  if (o.death_signal) {
    prctl(PR_SET_PDEATHSIG, o.death_signal);
    if (getppid() != parent) _exit(127);  // rebound died before the death signal was armed
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);  // EINVAL for glibc's own: harmless
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Lift the descriptors to give above 2 first, so that dup2 cannot overwrite one with another.
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) die(errno);
  const int sources[3] = {null_fd, o.stdout_fd >= 0 ? o.stdout_fd : null_fd, o.stderr_fd >= 0 ? o.stderr_fd : null_fd};
  int lifted[3];
  for (int i = 0; i < 3; ++i)
    if ((lifted[i] = fcntl(sources[i], F_DUPFD, 3)) < 0) die(errno);
  for (int i = 0; i < 3; ++i)
    if (dup2(lifted[i], i) < 0) die(errno);
  drop_descriptors(3, false);  // exec closes them; error_fd stays usable until then
  if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) die(errno);
  execve(o.exe.c_str(), argv, envp);
  die(errno);
  _exit(127);
}

std::vector<char*> pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> start_child(const ChildOptions& options) {
  if (options.argv.empty()) return fail("cannot start a program without argv");
  auto argv = pointers(options.argv);
  auto envp = pointers(options.env);
  Pipe error_pipe;
  if (!open_pipe(error_pipe, O_CLOEXEC))
    return fail_errno(fmt::format("cannot start {}: pipe", options.exe));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return fail_errno(fmt::format("cannot start {}: fork", options.exe));
  if (pid == 0) {
    error_pipe.read.reset();
    exec_child(options, argv.data(), envp.data(), parent, error_pipe.write.get());
  }
  error_pipe.write.reset();
  setpgid(pid, pid);  // also here, so the group exists before anyone signals it
  int err = 0;
  ssize_t n;
  while ((n = read(error_pipe.read.get(), &err, sizeof err)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof err)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return fail(fmt::format("cannot start {}: {}", options.exe, std::strerror(err)));
  }
  return pid;
}

Result<std::string> find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) != 0) return fail_errno(fmt::format("cannot execute {}", name));
    return name;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t from = 0;
  while (from <= dirs.size()) {
    size_t colon = dirs.find(':', from);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(from, colon - from);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    from = colon + 1;
  }
  return fail(fmt::format("command '{}' not found in PATH", name));
}

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    bool replaced = false;
    for (const auto& [k, v] : overrides) replaced = replaced || entry.compare(0, k.size() + 1, k + "=") == 0;
    if (!replaced) env.push_back(std::move(entry));
  }
  for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
  return env;
}

Result<GroupKeeper> GroupKeeper::start(pid_t pgid, int grace_ms) {
  Pipe p;
  if (!open_pipe(p, O_CLOEXEC)) return fail_errno(fmt::format("cannot watch process group {}", pgid));
  const pid_t pid = fork();
  if (pid < 0) return fail_errno(fmt::format("cannot watch process group {}: fork", pgid));
  if (pid == 0) {
    // Hold nothing of rebound's but the read end: any other holder of the write end would delay the EOF.
    if (dup2(p.read.get(), 0) < 0) _exit(1);
    drop_descriptors(1, true);
    prctl(PR_SET_NAME, "rebound-keeper");
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &ignore, nullptr);  // only EOF ends us
    char c;
    while (read(0, &c, 1) < 0 && errno == EINTR) {
    }
    // rebound is gone (or dismissed us with SIGKILL, in which case we never get here).
    kill(-pgid, SIGTERM);
    kill(-pgid, SIGCONT);
    const timespec tick{0, 10'000'000};
    for (int waited = 0; waited < grace_ms && kill(-pgid, 0) == 0; waited += 10) nanosleep(&tick, nullptr);
    kill(-pgid, SIGKILL);
    _exit(0);
  }
  GroupKeeper k;
  k.pid_ = pid;
  k.pipe_ = std::move(p.write);
  return k;
}

GroupKeeper::GroupKeeper(GroupKeeper&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pipe_(std::move(other.pipe_)) {}

GroupKeeper& GroupKeeper::operator=(GroupKeeper&& other) noexcept {
  if (this != &other) {
    dismiss();
    pid_ = std::exchange(other.pid_, -1);
    pipe_ = std::move(other.pipe_);
  }
  return *this;
}

GroupKeeper::~GroupKeeper() { dismiss(); }

void GroupKeeper::dismiss() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pipe_.reset();
  pid_ = -1;
}

}  // namespace rebound
