// disk.fill as a user sees it: writes on the filled file system get ENOSPC and succeed again after, free space
// comes back, the root file system is refused, and a rebound killed mid-fault leaves no fill file behind.
#include <catch2/catch.hpp>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <vector>

#include "helpers.hpp"

namespace fs = std::filesystem;

namespace {

// A tmpfs of `mib` MiB mounted on a folder of the test's own, unmounted at the end.
class SmallFileSystem {
 public:
  explicit SmallFileSystem(int mib) : path_(dir_.path() + "/fs") {
    fs::create_directories(path_);
    REQUIRE(::mount("rebound-test", path_.c_str(), "tmpfs", 0, ("size=" + std::to_string(mib) + "m").c_str()) == 0);
  }
  ~SmallFileSystem() { ::umount2(path_.c_str(), MNT_DETACH); }
  const std::string& path() const { return path_; }
  uint64_t available() const {
    struct statvfs s {};
    REQUIRE(statvfs(path_.c_str(), &s) == 0);
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  }
  // Writes `mib` MiB to a new file and fsyncs it; 0 or the errno the write hit. The file is removed after.
  int write_file(int mib) const {
    std::string file = path_ + "/probe-write";
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    std::vector<char> block(1 << 20, 'x');
    int error = 0;
    for (int i = 0; i < mib && !error; ++i)
      if (::write(fd, block.data(), block.size()) < 0) error = errno;
    ::close(fd);
    ::unlink(file.c_str());
    return error;
  }
  size_t fill_files() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(path_)) n += e.path().filename().string().starts_with(".rebound-fill-");
    return n;
  }

 private:
  test::TempDir dir_;
  std::string path_;
};

std::string fill_step(const std::string& path, const std::string& how) {
  return "type = \"disk.fill\"\npath = \"" + path + "\"\n" + how;
}

constexpr uint64_t kMiB = 1 << 20;

}  // namespace

TEST_CASE("disk.fill: writes get ENOSPC while the file system is full and succeed after, free space comes back",
          "[integration][root][disk]") {
  if (!test::privileged()) return;
  SmallFileSystem small(64);
  const uint64_t before = small.available();
  REQUIRE(small.write_file(8) == 0);
  test::RunningFault fault("", fill_step(small.path(), "free = \"4MiB\""));
  const uint64_t during = small.available();
  CHECK(during <= 4 * kMiB);
  CHECK(during > 3 * kMiB);
  CHECK(small.write_file(8) == ENOSPC);
  CHECK(small.fill_files() == 1);
  fault.stop();
  CHECK(small.fill_files() == 0);
  CHECK(small.available() == before);
  CHECK(small.write_file(8) == 0);
  auto step = fault.journal()["steps"][0];
  INFO(step.dump(2));
  CHECK(step["detail"]["method"] == "fallocate");
  CHECK(step["detail"]["filled_bytes"].get<uint64_t>() > 55 * kMiB);
  CHECK(step["detail"]["free_after"].get<uint64_t>() == before);
  CHECK(step["effect"].get<std::string>().find("to 4.0 MiB free") != std::string::npos);
}

TEST_CASE("disk.fill: space another program frees during the fault is taken too so the file system stays full",
          "[integration][root][disk]") {
  if (!test::privileged()) return;
  SmallFileSystem small(64);
  const std::string theirs = small.path() + "/their-file";
  {
    std::ofstream out(theirs);
    out << std::string(8 * kMiB, 'x');
  }
  test::RunningFault fault("", fill_step(small.path(), "free = \"4MiB\""));
  CHECK(small.available() <= 4 * kMiB);
  fs::remove(theirs);  // 8 MiB free again for a moment: what a writer sees whose file was there when rebound measured
  CHECK(test::wait_for([&] { return small.available() <= 4 * kMiB + 128 * 1024; }, 2000));
  CHECK(small.write_file(8) == ENOSPC);
  fault.stop();
  CHECK(small.fill_files() == 0);
  CHECK(small.write_file(8) == 0);
  auto step = fault.journal()["steps"][0];
  INFO(step.dump(2));
  CHECK(step["detail"]["topped_up_bytes"].get<uint64_t>() >= 7 * kMiB);
}

TEST_CASE("disk.fill: used as a share fills the file system to that share as df counts it", "[integration][root][disk]") {
  if (!test::privileged()) return;
  SmallFileSystem small(100);
  test::RunningFault fault("", fill_step(small.path(), "used = \"90%\""));
  struct statvfs s {};
  REQUIRE(statvfs(small.path().c_str(), &s) == 0);
  const double used = static_cast<double>(s.f_blocks - s.f_bfree) / static_cast<double>(s.f_blocks - s.f_bfree + s.f_bavail);
  CHECK(used == Approx(0.90).margin(0.01));
  fault.stop();
  CHECK(small.fill_files() == 0);
}

TEST_CASE("disk.fill: refuses the root file system unless allow_root_fs is set and writes nothing", "[integration][disk]") {
  test::TempDir dir;
  auto file = dir.write("fill.toml", "name = \"fill-root\"\n[[probes]]\nname = \"always\"\ntype = \"command\"\n"
                                     "argv = [\"/bin/true\"]\n[steady_state]\nwindow = \"200ms\"\n[[method]]\n"
                                     "name = \"fill\"\n" + fill_step("/", "free = \"1MiB\"") + "\nduration = \"1s\"\n");
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK((r.out + r.err).find("/ is on the root file system") != std::string::npos);
  CHECK((r.out + r.err).find("allow_root_fs = true") != std::string::npos);
  bool left = false;
  for (const auto& e : fs::directory_iterator("/")) left |= e.path().filename().string().starts_with(".rebound-fill-");
  CHECK_FALSE(left);
  auto dry = test::run_rebound({"run", file, "--dry-run"});
  CHECK(dry.exit_code != 0);
  CHECK((dry.out + dry.err).find("root file system") != std::string::npos);
}

TEST_CASE("disk.fill: after a SIGKILL of rebound its guardian removes the fill file", "[integration][root][disk]") {
  if (!test::privileged()) return;
  SmallFileSystem small(32);
  const uint64_t before = small.available();
  test::RunningFault fault("", fill_step(small.path(), "free = \"2MiB\""));
  REQUIRE(small.fill_files() == 1);
  fault.stop(SIGKILL);
  CHECK(test::wait_for([&] { return small.fill_files() == 0; }, 5000));
  // The space comes back once the kernel has let go of the unlinked file (a few ms after the unlink).
  CHECK(test::wait_for([&] { return small.available() == before; }, 5000));
}

TEST_CASE("disk.fill: after a SIGKILL of rebound and its guardian rebound recover removes the fill file",
          "[integration][root][disk]") {
  if (!test::privileged()) return;
  SmallFileSystem small(32);
  const uint64_t before = small.available();
  test::RunningFault fault("", fill_step(small.path(), "free = \"2MiB\""));
  test::kill_guardian(fault.rebound->pid());
  fault.stop(SIGKILL);
  REQUIRE(small.fill_files() == 1);  // nothing is left to remove it but the record
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("removed " + small.path() + "/.rebound-fill-") != std::string::npos);
  CHECK(small.fill_files() == 0);
  CHECK(test::wait_for([&] { return small.available() == before; }, 5000));
  CHECK(fault.records() == 0);
}

TEST_CASE("disk.fill: validation names the key and the fix", "[validation][disk]") {
  auto exp = [](const std::string& step) {
    return "name = \"x\"\n[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n[steady_state]\n"
           "window = \"1s\"\n[[method]]\nname = \"fill\"\ntype = \"disk.fill\"\nduration = \"1s\"\n" + step;
  };
  CHECK(test::only_error(exp("path = \"data\"\nfree = \"1MiB\"\n")).find("'data' is relative: write the absolute path of a folder") != std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nfree = \"1MiB\"\nused = \"90%\"\n")).find("give either free or used, not both") !=
        std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\n")).find("say how full to make it: free = \"100MiB\" (what is left) or used = \"98%\"") != std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nfree = \"100 megs\"\n")).find("'100 megs' is not a size: write a number and a unit such as \"512MiB\", \"100MB\" or \"2GiB\" "
                                                                                 "(B, kB, KiB, MB, MiB, GB, GiB, TB, TiB)") !=
        std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nfree = \"90%\"\n")).find("'90%' is not a size") != std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nused = \"100MiB\"\n")).find("write used as a share such as \"98%\"; for a size, write free = \"100MiB\"") !=
        std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nused = \"140%\"\n")).find("'140%' is not a share of the file system's size: write a percentage above 0 and at most 100, "
                                                                                 "such as \"90%\"") !=
        std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nfree = \"99999999999TiB\"\n")).find("is not a size") !=
        std::string::npos);
  CHECK(test::only_error(exp("path = \"/data\"\nused = \"98\"\n")).find(", or a share of the file system's size such as \"90%\"") !=
        std::string::npos);
}
