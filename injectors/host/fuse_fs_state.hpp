#pragma once
// Inside FuseFs: what the request handlers (fuse_ops.cpp) share with the session that serves them (fuse_fs.cpp).
#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "injectors/host/fuse_fs.hpp"
#include "injectors/host/namespace_mount.hpp"
#include "system/fd.hpp"

namespace rebound {

// One file or folder the kernel knows by its node id: an O_PATH descriptor of the real one underneath.
struct FuseInode {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t nlookup = 0;
  std::string rel;  // path relative to the folder when it was first looked up ("" for the folder itself)
};

// Decides which callers are the target's: their thread id maps to a process that is a target process or one of
// its descendants. Decisions are kept per thread id for the fault's life.
class CallerFilter {
 public:
  explicit CallerFilter(const std::vector<pid_t>& targets) : roots_(targets.begin(), targets.end()) {}
  bool is_target(pid_t tid);

 private:
  bool descends_from_target(pid_t pid) const;
  std::set<pid_t> roots_;
  std::mutex mutex_;
  std::unordered_map<pid_t, bool> cache_;
};

struct FuseFsState {
  FuseFsState(const FileFaultPlan& p, const std::vector<pid_t>& targets) : plan(p), filter(targets) {}
  FileFaultPlan plan;
  CallerFilter filter;
  std::string path;
  Fd root_fd;  // O_PATH of the real folder, opened before the mount
  FuseInode root;
  std::mutex inodes_mutex;
  std::map<std::pair<dev_t, ino_t>, std::unique_ptr<FuseInode>> inodes;
  std::array<FileOpCounts, kFileOpCount> counts;
  std::atomic<uint64_t> others{0};
  std::chrono::steady_clock::time_point mounted_at;
  std::atomic<int64_t> first_fault_us{-1};  // from the mount to the first fault the target got
  std::atomic<bool> on{true};
  std::atomic<int64_t> open_handles{0};
  double attr_timeout = 1.0;
  fuse_session* session = nullptr;
  std::thread loop;
  std::atomic<bool> loop_done{false};
  dev_t mount_dev = 0;
  pid_t watcher_pid = 0;  // that fusermount3, our child: reaped once it exits
  Fd watcher_socket;  // libfuse's socket to fusermount3 for auto_unmount (libfuse keeps it open, without CLOEXEC)
  bool mounted = false;
  pid_t namespace_pid = 0;                     // mounted in the mount namespace of this process (0: rebound's own)
  std::optional<NamespaceMount> namespace_mount;  // then: its watcher, which unmounts it
};

// The inode behind a node id.
FuseInode& inode_of(fuse_req_t req, fuse_ino_t ino);
// Applies the fault to a request when it is drawn: sleeps for a delay, then returns the errno to reply with (0:
// do the operation). `name`: for a request about an entry of a folder, the entry's name.
int fault_for(fuse_req_t req, FileOp op, const FuseInode& inode, const char* name = nullptr);
// Whether a target process made the request (direct I/O for its opens, so that reads reach the fault).
bool from_target(fuse_req_t req);

const fuse_lowlevel_ops& passthrough_ops();

}  // namespace rebound
