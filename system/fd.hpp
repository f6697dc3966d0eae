#pragma once
// The one owner of a file descriptor: closed on destruction, movable, never copied.
#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace rebound {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Closes the descriptor held now (if any) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Gives the descriptor up without closing it (to a child's dup2, or to a library that closes it).
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// Both ends of a pipe.
struct Pipe {
  Fd read, write;
};

// pipe2(2) with `flags`; false (errno set) when it failed.
inline bool open_pipe(Pipe& pipe, int flags) {
  int ends[2];
  if (pipe2(ends, flags) != 0) return false;
  pipe.read.reset(ends[0]);
  pipe.write.reset(ends[1]);
  return true;
}

}  // namespace rebound
