// What file.error / file.delay's FUSE passthrough costs when no fault is drawn (probability 0), against the same
// operations done directly on the folder underneath: small-file create + write + fsync (ops/s) and sequential
// reads of a large file with 1 MiB buffers (MiB/s). The folder is a tmpfs of the bench's own, so that the disk
// does not hide the overhead (the ratios are the worst case), or with --dir a new folder under DIR (a real disk:
// fsync waits for it). Needs root.
//   rebound_fuse_overhead [--files N] [--read-mib M] [--dir DIR]
// Goals (issue 12): >= 0.5x of direct for the small files, >= 0.8x for the reads.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "injectors/host/fuse_fs.hpp"

using namespace rebound;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Creates, writes 4 KiB to, fsyncs and closes `n` files; ops/s (one op = one file).
double small_files(const std::string& dir, int n) {
  std::vector<char> block(4096, 'x');
  auto t = Clock::now();
  for (int i = 0; i < n; ++i) {
    std::string path = dir + "/small-" + std::to_string(i);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, block.data(), block.size()) != 4096 || ::fsync(fd) != 0) {
      std::perror(path.c_str());
      std::exit(1);
    }
    ::close(fd);
  }
  double ops = n / seconds_since(t);
  for (int i = 0; i < n; ++i) ::unlink((dir + "/small-" + std::to_string(i)).c_str());
  return ops;
}

// Reads the file from the start with 1 MiB buffers, best of three passes; MiB/s.
double sequential_read(const std::string& file, int mib) {
  std::vector<char> buf(1 << 20);
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::perror(file.c_str()), 0;
    auto t = Clock::now();
    ssize_t n;
    size_t total = 0;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += static_cast<size_t>(n);
    double rate = static_cast<double>(total) / (1 << 20) / seconds_since(t);
    ::close(fd);
    if (total != static_cast<size_t>(mib) << 20) return std::fprintf(stderr, "short read\n"), 0;
    best = std::max(best, rate);
  }
  return best;
}

struct Numbers {
  double small = 0, read = 0;
};

Numbers measure(const std::string& dir, int files, int mib) {
  return {small_files(dir, files), sequential_read(dir + "/large", mib)};
}

}  // namespace

int main(int argc, char** argv) {
  int files = 2000, mib = 256;
  std::string parent;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--dir") parent = argv[i + 1];
    if (std::string(argv[i]) == "--files") files = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--read-mib") mib = std::atoi(argv[i + 1]);
  }
  std::string tmpl = (parent.empty() ? std::string("/var/tmp") : parent) + "/rebound-fuse-bench.XXXXXX";
  if (!::mkdtemp(tmpl.data())) return std::perror("mkdtemp"), 1;
  const std::string dir = tmpl;
  if (parent.empty() && ::mount("rebound-bench", dir.c_str(), "tmpfs", 0, ("size=" + std::to_string(mib + 64) + "m").c_str()) != 0)
    return std::perror("mount tmpfs (run as root)"), 1;
  {
    std::vector<char> block(1 << 20, 'r');
    int fd = ::open((dir + "/large").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    for (int i = 0; i < mib; ++i)
      if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) return std::perror("write"), 1;
    ::close(fd);
  }
  const Numbers direct = measure(dir, files, mib);
  // `as_target`: the bench is the target (every request takes the full path, a draw at probability 0); otherwise
  // it is one of the other processes, passed through.
  auto run_through = [&](bool as_target, bool io_faulted) {
    FileFaultPlan plan;
    plan.probability = 0;
    plan.error = 5;  // EIO, never drawn
    for (auto op : {FileOp::open, FileOp::create, FileOp::fsync}) plan.ops[static_cast<size_t>(op)] = true;
    plan.ops[static_cast<size_t>(FileOp::read)] = plan.ops[static_cast<size_t>(FileOp::write)] = io_faulted;
    auto fs = FuseFs::mount(dir, plan, as_target ? std::vector<pid_t>{getpid()} : std::vector<pid_t>{}, 0);
    if (!fs) {
      std::fprintf(stderr, "%s\n", fs.error().message.c_str());
      std::exit(1);
    }
    Numbers n = measure(dir, files, mib);
    (void)(*fs)->unmount(std::chrono::milliseconds(2000));
    return n;
  };
  const Numbers other = run_through(false, true);
  const Numbers target = run_through(true, false);
  const Numbers target_io = run_through(true, true);
  std::printf("small files (create + write 4 KiB + fsync + close, %d files), ops/s: direct %.0f; through FUSE: "
              "another process %.0f (%.2fx), the target %.0f (%.2fx), the target with read/write faulted %.0f (%.2fx)"
              " (goal >= 0.5x)\n",
              files, direct.small, other.small, other.small / direct.small, target.small, target.small / direct.small,
              target_io.small, target_io.small / direct.small);
  std::printf("sequential 1 MiB reads (%d MiB, best of 3), MiB/s: direct %.0f; through FUSE: another process %.0f "
              "(%.2fx), the target %.0f (%.2fx), the target with read/write faulted (direct I/O) %.0f (%.2fx) "
              "(goal >= 0.8x)\n",
              mib, direct.read, other.read, other.read / direct.read, target.read, target.read / direct.read,
              target_io.read, target_io.read / direct.read);
  std::printf("(on %s)\n", parent.empty() ? "a tmpfs" : dir.c_str());
  if (parent.empty()) ::umount2(dir.c_str(), MNT_DETACH);
  ::unlink((dir + "/large").c_str());
  ::rmdir(dir.c_str());
  return 0;
}
