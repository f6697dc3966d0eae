#pragma once
// The state directory holds the records that say which faults to undo, so rebound trusts only what it wrote
// there itself, as sshd does with its key files: the directory and every file in it must belong to rebound's
// own (effective) user and must not be writable by group or others, and no symbolic link is ever followed.
#include <optional>
#include <string>
#include <sys/types.h>

#include "config/result.hpp"
#include "system/fd.hpp"

namespace rebound {

// Creates `dir` with mode 0700 when missing (its parents as needed), then checks it as below.
[[nodiscard]] Result<void> prepare_state_dir(const std::string& dir);
// The directory is a real directory (not a link), owned by rebound's user, not writable by group or others.
// A directory that does not exist passes: nothing was recorded there.
[[nodiscard]] Result<void> check_state_dir(const std::string& dir);
// Creates a subdirectory (0700) of a checked state directory, or checks the one that is there.
[[nodiscard]] Result<void> prepare_state_subdir(const std::string& dir);

// The content of a file in the state directory, read without following a symbolic link; refused unless it is a
// regular file owned by rebound's user, not writable by group or others, and at most 1 MiB.
[[nodiscard]] Result<std::string> read_trusted_file(const std::string& path);
// Writes a new file (0600, never through a link) durably: written to a temporary name, fsync'd, renamed.
[[nodiscard]] Result<void> write_state_file(const std::string& path, const std::string& text);

// The emergency stop (`rebound halt`): STATE/halt.json, written durably, so that a halt survives a restart. While
// it exists every running rebound with that state directory reverts its faults and ends `aborted`, and no new
// experiment or scheduled suite starts, until `rebound resume` removes it.
struct HaltState {
  std::string reason;  // as given to `rebound halt --reason`, or a default
  std::string since;   // ISO 8601 UTC
  pid_t by_pid = 0;    // the `rebound halt` that wrote it
  uid_t by_uid = 0;
  std::string describe() const;  // "halted since T by pid P (uid U): REASON"
};
std::string halt_file(const std::string& dir);
// Only whether the file is there (one lstat): cheap enough for every tick of a running experiment.
bool halt_present(const std::string& dir);
// The halt, or nullopt when there is none. A halt file that cannot be read or trusted still halts (an emergency
// stop fails safe): its reason then says what is wrong with it.
std::optional<HaltState> read_halt(const std::string& dir);
[[nodiscard]] Result<HaltState> write_halt(const std::string& dir, const std::string& reason);
// True when there was a halt to remove.
[[nodiscard]] Result<bool> clear_halt(const std::string& dir);

// An exclusive lock on the state directory (flock on STATE/state.lock), held while rebound changes an object that
// several rebounds may share (a process frozen by two experiments). Released by the destructor, or by the kernel
// when the process dies.
class StateLock {
 public:
  [[nodiscard]] static Result<StateLock> acquire(const std::string& dir);

 private:
  explicit StateLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;  // closing the only descriptor releases the flock
};

}  // namespace rebound
