#include "injectors/host/namespace_mount.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "injectors/host/fuse_fs.hpp"

namespace rebound {

namespace fs = std::filesystem;

namespace {

// In a forked child of a process with threads only async-signal-safe calls: these close every descriptor but
// the ones kept, so that no descriptor of rebound's (another watcher's release pipe) lives on in the watcher.
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int fd : keep) {
    if (fd < 3) continue;
    const auto kept = static_cast<unsigned>(fd);
    if (kept > from) ::close_range(from, kept - 1, 0);
    from = std::max(from, kept + 1);
  }
  ::close_range(from, ~0U, 0);
}

// The child: enters the namespace, mounts, reports the outcome (0 or an errno) and waits to unmount.
[[noreturn]] void mount_and_watch(int ns_fd, int status_fd, int release_fd, int fuse_fd, const char* path,
                                  const char* options) {
  close_all_but({ns_fd, status_fd, release_fd, fuse_fd});
  ::setsid();  // a Ctrl-C to rebound's terminal must not take the watcher with it
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_IGN);
  ::prctl(PR_SET_NAME, "rebound-umount");
  int error = 0;
  if (::setns(ns_fd, CLONE_NEWNS) != 0) error = errno;
  else if (::mount("rebound", path, "fuse.rebound", MS_NOSUID | MS_NODEV, options) != 0) error = errno;
  [[maybe_unused]] auto written = ::write(status_fd, &error, sizeof error);
  ::close(status_fd);
  ::close(fuse_fd);
  ::close(ns_fd);
  if (error) ::_exit(1);
  char byte;
  while (::read(release_fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::umount2(path, MNT_DETACH);
  ::_exit(0);
}

// Waits up to `ms` for a child to exit; true when it did.
bool reap_within(pid_t pid, int ms) {
  for (int waited = 0; waited <= ms; waited += 5) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    ::usleep(5000);
  }
  return false;
}

}  // namespace

Result<NamespaceMount> NamespaceMount::mount(pid_t ns_pid, const std::string& path, int fuse_fd, mode_t root_mode) {
  Fd ns(::open(fmt::format("/proc/{}/ns/mnt", ns_pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return fail(fmt::format("cannot open the mount namespace of pid {}: {}", ns_pid, std::strerror(errno)));
  int status_pipe[2], release_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) return fail_errno("cannot make a pipe");
  Fd status_read(status_pipe[0]), status_write(status_pipe[1]);
  if (::pipe2(release_pipe, O_CLOEXEC) != 0) return fail_errno("cannot make a pipe");
  Fd release_read(release_pipe[0]), release_write(release_pipe[1]);
  const std::string options = fmt::format("fd={},rootmode={:o},user_id=0,group_id=0,allow_other,default_permissions",
                                          fuse_fd, root_mode & S_IFMT);
  pid_t child = ::fork();
  if (child < 0) return fail_errno("cannot start the process that mounts in the target's namespace");
  if (child == 0)
    mount_and_watch(ns.get(), status_write.get(), release_read.get(), fuse_fd, path.c_str(), options.c_str());
  status_write.reset();
  release_read.reset();
  int error = -1;
  pollfd p{status_read.get(), POLLIN, 0};
  if (::poll(&p, 1, 5000) == 1 && ::read(status_read.get(), &error, sizeof error) != sizeof error) error = -1;
  NamespaceMount m;
  m.watcher_ = child;
  m.release_ = std::move(release_write);
  if (error != 0) {
    m.release_.reset();
    reap_within(child, 1000);
    m.watcher_ = 0;
    return fail(fmt::format("cannot mount the FUSE file system over {} in the mount namespace of pid {}: {}", path,
                            ns_pid, error > 0 ? std::strerror(error) : "the mounting process did not answer"));
  }
  return m;
}

NamespaceMount::NamespaceMount(NamespaceMount&& o) noexcept
    : release_(std::move(o.release_)), watcher_(std::exchange(o.watcher_, 0)) {}

NamespaceMount& NamespaceMount::operator=(NamespaceMount&& o) noexcept {
  if (this != &o) {
    unmount();
    release_ = std::move(o.release_);
    watcher_ = std::exchange(o.watcher_, 0);
  }
  return *this;
}

NamespaceMount::~NamespaceMount() { unmount(); }

bool NamespaceMount::unmount() {
  if (watcher_ <= 0) return true;
  release_.reset();
  const bool done = reap_within(watcher_, 1000);
  watcher_ = 0;
  return done;
}

std::string mount_namespace_of(pid_t pid) {
  std::error_code ec;
  return fs::read_symlink(fmt::format("/proc/{}/ns/mnt", pid), ec).string();
}

pid_t process_in_mount_namespace(const std::string& ns) {
  if (ns.empty()) return 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (mount_namespace_of(pid) == ns) return pid;
  }
  return 0;
}

bool is_rebound_fuse_mount_in(pid_t pid, const std::string& path) {
  return rebound_fuse_mount_listed(fmt::format("/proc/{}/mountinfo", pid), path);
}

Result<void> unmount_in_namespace(pid_t pid, const std::string& path) {
  Fd ns(::open(fmt::format("/proc/{}/ns/mnt", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return fail(fmt::format("cannot open the mount namespace of pid {}: {}", pid, std::strerror(errno)));
  pid_t child = ::fork();
  if (child < 0) return fail_errno("cannot start the process that unmounts in the namespace");
  if (child == 0) {
    close_all_but({ns.get()});
    if (::setns(ns.get(), CLONE_NEWNS) != 0) ::_exit(errno);
    ::_exit(::umount2(path.c_str(), MNT_DETACH) == 0 ? 0 : errno);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const int error = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
  if (error != 0)
    return fail(fmt::format("cannot unmount {} in the mount namespace of pid {}: {}", path, pid, std::strerror(error)));
  return {};
}

}  // namespace rebound
