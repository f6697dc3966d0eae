#pragma once
// A FUSE mount inside the mount namespace of another process (a container's), for file faults on such targets.
// fusermount3 mounts only in its caller's namespace, and a process with threads cannot enter another: a child
// process enters it, mounts the FUSE descriptor that rebound serves, and stays there as the watcher that unmounts
// it when told to, or when rebound dies (the pipe from rebound closes): what auto_unmount does for a local mount.
#include <string>
#include <sys/types.h>

#include "config/result.hpp"
#include "system/fd.hpp"

namespace rebound {

class NamespaceMount {
 public:
  // Mounts the FUSE connection `fuse_fd` (an open /dev/fuse) over `path` as the namespace of `ns_pid` sees it.
  [[nodiscard]] static Result<NamespaceMount> mount(pid_t ns_pid, const std::string& path, int fuse_fd,
                                                    mode_t root_mode);
  NamespaceMount(NamespaceMount&&) noexcept;
  NamespaceMount& operator=(NamespaceMount&&) noexcept;
  ~NamespaceMount();

  // Tells the watcher to unmount (lazily) and waits for it: false when it did not confirm within a second.
  bool unmount();
  pid_t watcher() const { return watcher_; }

 private:
  NamespaceMount() = default;
  Fd release_;  // its closing tells the watcher to unmount; no other process holds it (O_CLOEXEC, closed in forks)
  pid_t watcher_ = 0;
};

// The mount namespace of a process ("mnt:[4026532281]"), or "" when it cannot be read.
std::string mount_namespace_of(pid_t pid);
// A live process in the mount namespace `ns`, or 0 (the namespace is gone with its last process).
pid_t process_in_mount_namespace(const std::string& ns);
// Whether the top mount on `path` in the namespace of `pid` is a rebound FUSE mount (/proc/PID/mountinfo).
bool is_rebound_fuse_mount_in(pid_t pid, const std::string& path);
// Unmounts (lazily) `path` in the mount namespace of `pid`, from a child that enters it.
[[nodiscard]] Result<void> unmount_in_namespace(pid_t pid, const std::string& path);

}  // namespace rebound
