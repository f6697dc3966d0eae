#pragma once
// A FUSE passthrough file system mounted over a folder for file.error and file.delay: every request is done on
// the real folder underneath (reached through a descriptor opened before the mount), except that requests of the
// target's processes (and their descendants) for the chosen operations on the chosen files fail with an errno or
// wait, with a probability. Everyone else passes through untouched. Mounted with auto_unmount: fusermount3
// removes the mount when rebound dies, even by SIGKILL.
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"

namespace rebound {

enum class FileOp { open, create, read, write, fsync, stat, unlink, mkdir, rmdir, rename, truncate, readdir, count };
constexpr size_t kFileOpCount = static_cast<size_t>(FileOp::count);
const char* to_string(FileOp op);
std::optional<FileOp> parse_file_op(std::string_view name);
std::vector<std::string> file_op_names();

// The fstype of rebound's mounts in /proc/self/mountinfo.
inline constexpr const char* kFuseFsType = "fuse.rebound";

struct FileFaultPlan {
  std::array<bool, kFileOpCount> ops{};
  int error = 0;  // the errno returned (file.error); 0: the operation is done after the delay (file.delay)
  double probability = 1;
  std::chrono::microseconds delay{0}, jitter{0};
  std::string files;  // glob of names below the folder ("" = every file): with a '/' against the relative path,
                      // otherwise against the file's own name
};

struct FileOpCounts {
  std::atomic<uint64_t> seen{0}, failed{0}, delayed{0};
};

struct FuseFsState;

class FuseFs {
 public:
  // Opens `path`, mounts the file system over it and serves it on a thread. `targets`: the processes (and their
  // descendants) that get the fault. `namespace_pid`: 0 to mount in rebound's own mount namespace (with
  // fusermount3's auto_unmount), else the pid of a process in whose mount namespace `path` is (NamespaceMount).
  [[nodiscard]] static Result<std::unique_ptr<FuseFs>> mount(const std::string& path, const FileFaultPlan& plan,
                                                             const std::vector<pid_t>& targets, pid_t namespace_pid);
  ~FuseFs();
  FuseFs(const FuseFs&) = delete;
  FuseFs& operator=(const FuseFs&) = delete;

  // Stops the fault at once (every request passes through from now on).
  void switch_off();
  // Switches off and unmounts (lazily: files opened through the mount keep working until they are closed, served
  // without faults). Returns how many such files were still open after `grace`.
  [[nodiscard]] Result<size_t> unmount(std::chrono::milliseconds grace);

  const std::array<FileOpCounts, kFileOpCount>& counts() const;
  uint64_t others() const;  // requests of other processes, passed through
  // From the mount to the first request of the target that got the fault (failed or delayed), if one did.
  std::optional<std::chrono::microseconds> first_fault() const;

 private:
  FuseFs() = default;
  void stop_serving();
  std::unique_ptr<FuseFsState> state_;
};

// Whether the top mount on `path` is a rebound FUSE mount (/proc/self/mountinfo).
bool is_rebound_fuse_mount(const std::string& path);
// The same in a mountinfo file (/proc/PID/mountinfo: as the mount namespace of PID sees it).
bool rebound_fuse_mount_listed(const std::string& mountinfo, const std::string& path);

}  // namespace rebound
