#include "injectors/host/fuse_fs.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <random>
#include <sstream>
#include <set>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "injectors/host/fuse_fs_state.hpp"

namespace rebound {

namespace {

constexpr const char* kOpNames[kFileOpCount] = {"open", "create", "read",  "write", "fsync",    "stat",
                                               "unlink", "mkdir", "rmdir", "rename", "truncate", "readdir"};

FuseFsState& state_of(fuse_req_t req) { return *static_cast<FuseFsState*>(fuse_req_userdata(req)); }

// A field of /proc/PID/status ("Tgid"), or -1.
pid_t status_field(pid_t pid, const char* field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.starts_with(prefix)) return static_cast<pid_t>(std::atol(line.c_str() + prefix.size()));
  return -1;
}

bool glob_matches(const std::string& glob, const std::string& rel) {
  if (glob.empty()) return true;
  if (glob.find('/') != std::string::npos) return fnmatch(glob.c_str(), rel.c_str(), 0) == 0;
  auto slash = rel.rfind('/');
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

std::chrono::microseconds draw_delay(const FileFaultPlan& plan, std::mt19937_64& rng) {
  if (plan.jitter.count() == 0) return plan.delay;
  std::uniform_int_distribution<int64_t> spread(-plan.jitter.count(), plan.jitter.count());
  return std::max(std::chrono::microseconds(0), plan.delay + std::chrono::microseconds(spread(rng)));
}

// "\040" in mountinfo is a space.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Descriptors of ours that are sockets.
std::set<int> socket_fds() {
  std::set<int> fds;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(e.path(), link_ec).string().starts_with("socket:"))
      fds.insert(std::atoi(e.path().filename().c_str()));
  }
  return fds;
}

// The socket pair end that libfuse made during the mount to talk to fusermount3 (a Unix socket of a pair that
// rebound made, new since `before`), or -1 when there is not exactly one such.
int find_watcher_socket(const std::set<int>& before) {
  int found = -1, count = 0;
  for (int fd : socket_fds()) {
    if (before.count(fd)) continue;
    int domain = 0;
    socklen_t dlen = sizeof domain;
    ucred peer{};
    socklen_t len = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0 || domain != AF_UNIX) continue;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.pid != ::getpid()) continue;
    found = fd;
    ++count;
  }
  return count == 1 ? found : -1;
}

// The fusermount3 that this thread just started (it stays to unmount when rebound dies), or 0.
pid_t find_watcher_pid() {
  std::ifstream children(fmt::format("/proc/self/task/{}/children", ::gettid()));
  for (pid_t pid; children >> pid;) {
    std::ifstream comm(fmt::format("/proc/{}/comm", pid));
    std::string name;
    if (std::getline(comm, name) && name == "fusermount3") return pid;
  }
  return 0;
}

// Reaps the watcher once it has exited (it does when its socket closes), waiting up to a second.
void reap(pid_t pid) {
  for (int i = 0; i < 200 && pid > 0; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Mounts the session's own /dev/fuse connection in the mount namespace of s.namespace_pid: libfuse takes a
// descriptor mounted by its caller as "/dev/fd/N".
Result<void> mount_in_namespace(FuseFsState& s, mode_t root_mode) {
  Fd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fuse) return fail(fmt::format("cannot open /dev/fuse: {}", std::strerror(errno)));
  auto mounted = NamespaceMount::mount(s.namespace_pid, s.path, fuse.get(), root_mode);
  if (!mounted) return mounted.error();
  s.namespace_mount.emplace(std::move(*mounted));
  if (fuse_session_mount(s.session, fmt::format("/dev/fd/{}", fuse.get()).c_str()) != 0)
    return fail(fmt::format("libfuse did not take the FUSE connection mounted over {}", s.path));
  (void)fuse.release();  // the session's now: fuse_session_destroy closes it
  return {};
}

}  // namespace

const char* to_string(FileOp op) { return kOpNames[static_cast<size_t>(op)]; }

std::optional<FileOp> parse_file_op(std::string_view name) {
  for (size_t i = 0; i < kFileOpCount; ++i)
    if (name == kOpNames[i]) return static_cast<FileOp>(i);
  return std::nullopt;
}

std::vector<std::string> file_op_names() { return {std::begin(kOpNames), std::end(kOpNames)}; }

bool CallerFilter::descends_from_target(pid_t pid) const {
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    if (roots_.count(pid)) return true;
    pid = status_field(pid, "PPid");
  }
  return false;
}

bool CallerFilter::is_target(pid_t tid) {
  if (tid <= 0) return false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = cache_.find(tid); it != cache_.end()) return it->second;
  }
  const pid_t tgid = status_field(tid, "Tgid");
  const bool target = tgid > 0 && descends_from_target(tgid);
  std::lock_guard lock(mutex_);
  cache_[tid] = target;
  return target;
}

FuseInode& inode_of(fuse_req_t req, fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return state_of(req).root;
  return *reinterpret_cast<FuseInode*>(ino);
}

bool from_target(fuse_req_t req) { return state_of(req).filter.is_target(fuse_req_ctx(req)->pid); }

int fault_for(fuse_req_t req, FileOp op, const FuseInode& inode, const char* name) {
  auto& s = state_of(req);
  if (!s.on.load(std::memory_order_relaxed)) return 0;
  if (!s.filter.is_target(fuse_req_ctx(req)->pid)) {
    ++s.others;
    return 0;
  }
  auto& count = s.counts[static_cast<size_t>(op)];
  ++count.seen;
  if (!s.plan.ops[static_cast<size_t>(op)]) return 0;
  if (!s.plan.files.empty()) {
    std::string rel = name ? (inode.rel.empty() ? std::string(name) : inode.rel + "/" + name) : inode.rel;
    if (!glob_matches(s.plan.files, rel)) return 0;
  }
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (s.plan.probability < 1 && std::uniform_real_distribution<double>(0, 1)(rng) >= s.plan.probability) return 0;
  int64_t none = -1;
  s.first_fault_us.compare_exchange_strong(
      none, std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - s.mounted_at).count());
  if (s.plan.delay.count() > 0 || s.plan.jitter.count() > 0) {
    ++count.delayed;
    std::this_thread::sleep_for(draw_delay(s.plan, rng));
  }
  if (s.plan.error) ++count.failed;
  return s.plan.error;
}

Result<std::unique_ptr<FuseFs>> FuseFs::mount(const std::string& path, const FileFaultPlan& plan,
                                              const std::vector<pid_t>& targets, pid_t namespace_pid) {
  std::unique_ptr<FuseFs> fs(new FuseFs);
  fs->state_ = std::make_unique<FuseFsState>(plan, targets);
  auto& s = *fs->state_;
  s.path = path;
  s.namespace_pid = namespace_pid;
  // The folder underneath as the mount's namespace sees it (through /proc/PID/root for another namespace).
  const std::string seen_from_here = namespace_pid ? fmt::format("/proc/{}/root{}", namespace_pid, path) : path;
  s.root_fd.reset(::open(seen_from_here.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!s.root_fd) return fail(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(s.root_fd.get(), &st) != 0) return fail(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
  s.root = {s.root_fd.get(), st.st_dev, st.st_ino, 2, ""};
  s.attr_timeout = plan.ops[static_cast<size_t>(FileOp::stat)] ? 0.0 : 1.0;  // a cached stat never reaches us
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  for (const char* a : {"rebound", "-o", "fsname=rebound,subtype=rebound,allow_other,default_permissions,auto_unmount"})
    fuse_opt_add_arg(&args, a);
  s.session = fuse_session_new(&args, &passthrough_ops(), sizeof(fuse_lowlevel_ops), &s);
  fuse_opt_free_args(&args);
  if (!s.session) return fail(fmt::format("cannot start a FUSE session for {} (see the log for libfuse's reason)", path));
  if (namespace_pid) {
    if (auto mounted = mount_in_namespace(s, st.st_mode); !mounted) return mounted.error();
  } else {
    const auto sockets_before = socket_fds();
    if (fuse_session_mount(s.session, path.c_str()) != 0)
      return fail(fmt::format("cannot mount the FUSE file system over {} (see the log for fusermount3's reason)", path));
    // Ours to close once unmounted (fusermount3 then exits), and no child of rebound's may inherit it: a child that
    // held it would keep the mount after rebound died.
    s.watcher_socket.reset(find_watcher_socket(sockets_before));
    if (s.watcher_socket) ::fcntl(s.watcher_socket.get(), F_SETFD, FD_CLOEXEC);
    s.watcher_pid = find_watcher_pid();
  }
  s.mounted = true;
  s.mounted_at = std::chrono::steady_clock::now();
  s.loop = std::thread([&s] {
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, 64);
    fuse_session_loop_mt(s.session, config);
    fuse_loop_cfg_destroy(config);
    s.loop_done = true;
  });
  // Only now that requests are served: a stat of the mount point waits for its answer.
  if (::stat(seen_from_here.c_str(), &st) == 0) s.mount_dev = st.st_dev;
  return fs;
}

void FuseFs::switch_off() {
  if (state_) state_->on = false;
}

Result<size_t> FuseFs::unmount(std::chrono::milliseconds grace) {
  switch_off();
  auto& s = *state_;
  if (s.mounted) {
    s.mounted = false;
    if (s.namespace_mount) {
      if (!s.namespace_mount->unmount())
        return fail(fmt::format("cannot unmount {} in the mount namespace of pid {}: its watcher did not answer",
                                s.path, s.namespace_pid));
    } else if (is_rebound_fuse_mount(s.path) && ::umount2(s.path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
      return fail(fmt::format("cannot unmount {}: {}", s.path, std::strerror(errno)));
    }
    if (s.watcher_socket) {
      s.watcher_socket.reset();  // unmounted: fusermount3 finds nothing left to do and exits
      reap(s.watcher_pid);
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!s.loop_done && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return s.loop_done ? size_t{0} : static_cast<size_t>(std::max<int64_t>(0, s.open_handles.load()));
}

void FuseFs::stop_serving() {
  auto& s = *state_;
  if (!s.session) return;
  if (!s.loop.joinable()) {  // the mount failed: nothing was served
    fuse_session_destroy(s.session);
    s.session = nullptr;
    return;
  }
  if (!s.loop_done) {
    // Files still open through the mount: end the connection (they get ENOTCONN from now on).
    fuse_session_exit(s.session);
    std::ofstream(fmt::format("/sys/fs/fuse/connections/{}/abort", minor(s.mount_dev))) << "1";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!s.loop_done && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!s.loop_done) {  // no fusectl to abort with: leave the session to the process's end rather than hang
    s.loop.detach();
    (void)state_.release();
    return;
  }
  s.loop.join();
  fuse_session_unmount(s.session);
  fuse_session_destroy(s.session);
  s.session = nullptr;
}

FuseFs::~FuseFs() {
  if (!state_) return;
  if (state_->mounted) (void)unmount(std::chrono::milliseconds(500));
  stop_serving();
  if (!state_) return;
  std::lock_guard lock(state_->inodes_mutex);
  for (auto& [key, inode] : state_->inodes) ::close(inode->fd);
}

const std::array<FileOpCounts, kFileOpCount>& FuseFs::counts() const { return state_->counts; }
uint64_t FuseFs::others() const { return state_->others; }
std::optional<std::chrono::microseconds> FuseFs::first_fault() const {
  const int64_t us = state_->first_fault_us;
  if (us < 0) return std::nullopt;
  return std::chrono::microseconds(us);
}

bool is_rebound_fuse_mount(const std::string& path) { return rebound_fuse_mount_listed("/proc/self/mountinfo", path); }

bool rebound_fuse_mount_listed(const std::string& mountinfo, const std::string& path) {
  std::ifstream in(mountinfo);
  std::string line, fstype;
  bool found = false;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, field;
    fields >> id >> parent >> dev >> root >> point;
    if (unescape_mount_path(point) != path) continue;
    while (fields >> field && field != "-") {
    }
    fields >> fstype;
    found = fstype == kFuseFsType;  // the last one listed is the top mount
  }
  return found;
}

}  // namespace rebound
