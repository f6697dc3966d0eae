// file.error and file.delay on a target in another mount namespace (a container): the mount is made in the
// target's namespace, removed by its watcher when rebound dies, and by rebound recover when the watcher died too.
#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "file_fault_helpers.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using namespace file_fault_test;

namespace {

// The writer in a mount namespace of its own (as in a container), writing to a tmpfs that only its namespace has:
// the host sees an empty folder at the same path.
struct NamespacedWriterBed {
  test::TempDir dir;
  std::string data = dir.path() + "/data";
  std::string log = dir.path() + "/writer.log";
  std::unique_ptr<test::Child> writer;
  NamespacedWriterBed() {
    fs::create_directories(data);
    const std::string script = dir.write("writer.py", kWriter);
    writer = std::make_unique<test::Child>(std::vector<std::string>{
        "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
        "mount -t tmpfs rebound-ns-test \"$0\" && echo hello > \"$0/fixed.txt\" && exec /usr/bin/python3 \"$1\" \"$0\" "
        "\"$2\"",
        data, script, log});
    REQUIRE(test::wait_for([&] { return test::read_text(log).find("\n1 ") != std::string::npos; }, 5000));
  }
  pid_t pid() const { return writer->pid(); }  // unshare execs sh, which execs python: one pid
  std::string target() const { return "[[targets]]\nname = \"writer\"\npid = " + std::to_string(pid()) + "\n"; }
  bool mounted_in_its_namespace() const {
    std::ifstream in("/proc/" + std::to_string(pid()) + "/mountinfo");
    for (std::string l; std::getline(in, l);)
      if (l.find(" " + data + " ") != std::string::npos && l.find(" fuse.rebound ") != std::string::npos) return true;
    return false;
  }
  std::vector<std::string> next_lines(size_t n) const {
    auto count = [&] {
      const std::string text = test::read_text(log);
      return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    };
    const size_t from = count();
    REQUIRE(test::wait_for([&] { return count() >= from + n; }, 10'000));
    std::istringstream in(test::read_text(log));
    std::vector<std::string> all;
    for (std::string l; std::getline(in, l);) all.push_back(l);
    return {all.begin() + static_cast<std::ptrdiff_t>(from), all.end()};
  }
};

// The rebound-umount watcher of a namespace mount, or 0.
pid_t namespace_watcher() {
  for (const auto& e : fs::directory_iterator("/proc"))
    if (test::read_text(e.path().string() + "/comm") == "rebound-umount\n") return std::stoi(e.path().filename().string());
  return 0;
}

}  // namespace

TEST_CASE("file.error on a target in another mount namespace: the mount is made in its namespace and its writes "
          "fail with EIO",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  NamespacedWriterBed bed;
  CHECK(count_with(bed.next_lines(3), "ok fsync_ms") == 3);
  test::RunningFault fault(bed.target(), step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"));
  CHECK(bed.mounted_in_its_namespace());
  CHECK_FALSE(rebound_mount_on(bed.data));  // not in rebound's namespace: the host's folder is untouched
  auto during = bed.next_lines(5);
  INFO(fmt_lines(during));
  CHECK(count_with(during, "err EIO read ok") >= 4);
  fault.stop();
  CHECK_FALSE(bed.mounted_in_its_namespace());
  CHECK(count_with(bed.next_lines(4), "ok fsync_ms") >= 3);
  CHECK(namespace_watcher() == 0);
  auto s = fault.journal()["steps"][0];
  INFO(s.dump(2));
  CHECK(s["detail"]["mount_namespace"]["pid"] == bed.pid());
  CHECK(s["detail"]["operations"]["write"]["failed"].get<uint64_t>() >= 4);
}

TEST_CASE("file.error in another mount namespace: after a SIGKILL of rebound its watcher unmounts, and when the "
          "watcher dies too rebound recover unmounts inside the namespace",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  NamespacedWriterBed bed;
  {
    test::RunningFault fault(bed.target(), step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"));
    REQUIRE(bed.mounted_in_its_namespace());
    test::kill_guardian(fault.rebound->pid());
    fault.stop(SIGKILL);
    CHECK(test::wait_for([&] { return !bed.mounted_in_its_namespace(); }, 5000));  // the watcher's unmount
    CHECK(test::wait_for([&] { return namespace_watcher() == 0; }, 5000));
    CHECK(count_with(bed.next_lines(3), "ok fsync_ms") >= 2);
  }
  test::RunningFault fault(bed.target(), step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"));
  REQUIRE(bed.mounted_in_its_namespace());
  const pid_t watcher = namespace_watcher();
  REQUIRE(watcher > 0);
  REQUIRE(::kill(watcher, SIGKILL) == 0);
  test::kill_guardian(fault.rebound->pid());
  fault.stop(SIGKILL);
  REQUIRE(bed.mounted_in_its_namespace());  // nothing is left to remove it but the record
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("unmounted the rebound FUSE mount on " + bed.data + " in the mount namespace of pid " +
                   std::to_string(bed.pid())) != std::string::npos);
  CHECK_FALSE(bed.mounted_in_its_namespace());
  CHECK(count_with(bed.next_lines(3), "ok fsync_ms") >= 2);
  CHECK(fault.records() == 0);
}

TEST_CASE("file.error: a path missing where the target sees it is refused by the dry run and the step",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  NamespacedWriterBed bed;
  const std::string missing = bed.data + "/not-here";
  auto file = bed.dir.write("f.toml", "name = \"f\"\n" + bed.target() +
                                          "[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                          "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"f\"\n" +
                                          step("file.error", missing, "operations = [\"write\"]\nerrno = \"EIO\"\n"
                                                                      "duration = \"1s\"\n"));
  auto dry = test::run_rebound({"run", file, "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code != 0);
  CHECK(dry.out.find("path " + missing + " in the mount namespace of pid " + std::to_string(bed.pid()) +
                     ": No such file or directory (it must exist before the run)") != std::string::npos);
  auto r = test::run_rebound({"run", file, "--report-dir", bed.dir.path() + "/r", "--state-dir", bed.dir.path() + "/s"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK((r.out + r.err).find("(it must exist before the run)") != std::string::npos);
  CHECK_FALSE(bed.mounted_in_its_namespace());
}

