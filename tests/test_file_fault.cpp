// file.error and file.delay as a user sees them: the target's writes fail with EIO (its reads still work, another
// process's writes do not fail), its fsync gets slower (another's does not), nothing is left mounted after the
// step or after a SIGKILL of rebound, and every validation message.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>

#include "file_fault_helpers.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using namespace file_fault_test;

namespace {

// A tmpfs folder of the test's own (fsync is instant there), a fixed file in it, and the writer as target.
struct WriterBed {
  test::TempDir dir;
  std::string data = dir.path() + "/data";
  std::string log = dir.path() + "/writer.log";
  std::unique_ptr<test::Child> writer;
  WriterBed() {
    fs::create_directories(data);
    REQUIRE(::mount("rebound-test", data.c_str(), "tmpfs", 0, "size=16m") == 0);
    std::ofstream(data + "/fixed.txt") << "hello";
    writer = std::make_unique<test::Child>(
        std::vector<std::string>{"/usr/bin/python3", dir.write("writer.py", kWriter), data, log});
    REQUIRE(test::wait_for([&] { return lines().size() >= 2; }, 5000));
  }
  ~WriterBed() {
    writer.reset();
    ::umount2(data.c_str(), MNT_DETACH);
  }
  std::string target() const {
    return "[[targets]]\nname = \"writer\"\npid = " + std::to_string(writer->pid()) + "\n";
  }
  std::vector<std::string> lines() const {
    std::istringstream in(test::read_text(log));
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  // The writer's lines from now on, once `n` of them are written.
  std::vector<std::string> next_lines(size_t n) const {
    const size_t from = lines().size();
    REQUIRE(test::wait_for([&] { return lines().size() >= from + n; }, 10'000));
    auto all = lines();
    return {all.begin() + static_cast<std::ptrdiff_t>(from), all.end()};
  }
};

}  // namespace

TEST_CASE("file.error: the target's writes fail with EIO, its reads work, another process's writes succeed",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  WriterBed bed;
  CHECK(count_with(bed.next_lines(3), "ok fsync_ms") == 3);
  test::RunningFault fault(bed.target(), step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"));
  CHECK(rebound_mount_on(bed.data));
  auto during = bed.next_lines(5);
  INFO(fmt_lines(during));
  CHECK(count_with(during, "err EIO read ok") >= 4);  // the first may have started before the mount
  CHECK(count_with(during, "read err") == 0);
  auto [err, ms] = other_write(bed.data + "/other.dat");
  CHECK(err == 0);
  CHECK(test::read_text(bed.data + "/other.dat") == "other");
  fault.stop();
  CHECK_FALSE(rebound_mount_on(bed.data));
  auto after = bed.next_lines(4);
  CHECK(count_with(after, "ok fsync_ms") >= 3);
  auto s = fault.journal()["steps"][0];
  INFO(s.dump(2));
  CHECK(s["detail"]["operations"]["write"]["failed"].get<uint64_t>() >= 4);
  CHECK(s["detail"]["operations"]["write"]["seen"] == s["detail"]["operations"]["write"]["failed"]);
  CHECK(s["detail"]["other_processes_requests"].get<uint64_t>() >= 2);
  CHECK(s["effect"].get<std::string>().find("failed with EIO") != std::string::npos);
  CHECK(s["detail"]["open_before"] == 0);
  CHECK(s["detail"]["first_fault_after_ms"].get<double>() < 1000);  // the writer writes every 20 ms
}

TEST_CASE("file.delay: 100 ms on fsync shows in the target's fsync latency and not in another process's",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  WriterBed bed;
  CHECK(median(fsync_ms(bed.next_lines(5))) < 50);
  test::RunningFault fault(bed.target(), step("file.delay", bed.data, "operations = [\"fsync\"]\ndelay = \"100ms\"\n"));
  auto during = bed.next_lines(6);
  INFO(fmt_lines(during));
  during.erase(during.begin());  // it may have started before the mount
  CHECK(median(fsync_ms(during)) >= 90);
  CHECK(median(fsync_ms(during)) < 1000);
  std::vector<double> other;
  for (int i = 0; i < 5; ++i) {
    auto [err, ms] = other_write(bed.data + "/other.dat");
    CHECK(err == 0);
    other.push_back(ms);
  }
  CHECK(median(other) < 50);
  fault.stop();
  CHECK(median(fsync_ms(bed.next_lines(5))) < 50);
  auto s = fault.journal()["steps"][0];
  INFO(s.dump(2));
  CHECK(s["detail"]["operations"]["fsync"]["delayed"].get<uint64_t>() >= 5);
  CHECK(s["effect"].get<std::string>().find("delayed by 100ms") != std::string::npos);
}

TEST_CASE("file.error: after a SIGKILL of rebound (and its guardian) no FUSE mount is left, rebound recover finds "
          "nothing to undo",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  WriterBed bed;
  test::RunningFault fault(bed.target(), step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"));
  REQUIRE(rebound_mount_on(bed.data));
  test::kill_guardian(fault.rebound->pid());
  fault.stop(SIGKILL);
  CHECK(test::wait_for([&] { return !rebound_mount_on(bed.data); }, 5000));  // fusermount3's auto_unmount
  CHECK(count_with(bed.next_lines(3), "ok fsync_ms") >= 2);
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("no rebound FUSE mount left on " + bed.data) != std::string::npos);
  CHECK(fault.records() == 0);
}

TEST_CASE("file.error: a dry run refuses a path that is missing or not a folder", "[integration][file]") {
  test::TempDir dir;
  test::Child writer({"/bin/sleep", "30"});
  auto file = dir.write("f.toml", "name = \"f\"\n[[targets]]\nname = \"writer\"\npid = " + std::to_string(writer.pid()) +
                                      "\n[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                      "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"f\"\n" +
                                      step("file.error", dir.path() + "/missing",
                                           "operations = [\"write\"]\nerrno = \"EIO\"\nduration = \"1s\"\n"));
  auto r = test::run_rebound({"run", file, "--dry-run"});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK((r.out + r.err).find("/missing: No such file or directory (it must exist before the run)") != std::string::npos);
}

TEST_CASE("file.error and file.delay: validation names the key and the fix", "[validation][file]") {
  auto exp = [](const std::string& type, const std::string& rest) {
    return "name = \"x\"\n[[targets]]\nname = \"writer\"\nexe = \"writer\"\n[[probes]]\nname = \"p\"\ntype = "
           "\"command\"\nargv = [\"/bin/true\"]\n[steady_state]\nwindow = \"1s\"\n[[method]]\nname = \"f\"\n"
           "duration = \"1s\"\n" + step(type, "/data", rest);
  };
  const std::string ops = "operations = [\"write\"]\n";
  CHECK(test::only_error(exp("file.error", ops + "errno = \"EOI\"\n"))
            .find("unknown errno 'EOI'; did you mean 'EIO'? (known: EIO, ENOSPC") != std::string::npos);
  CHECK(test::only_error(exp("file.error", "operations = [\"wrte\"]\nerrno = \"EIO\"\n"))
            .find("unknown operation 'wrte'; did you mean 'write'? (known: open, create, read, write") !=
        std::string::npos);
  CHECK(test::only_error(exp("file.error", "operations = []\nerrno = \"EIO\"\n"))
            .find("list at least one operation, e.g. [\"write\", \"fsync\"] (known: open") != std::string::npos);
  CHECK(test::only_error(exp("file.error", ops + "errno = \"EIO\"\nfiles = \"../etc/*\"\n"))
            .find("'../etc/*' is not a glob of names below path: write e.g. \"*.db\" or \"wal/*.log\", without a "
                  "leading '/' or '..'") != std::string::npos);
  CHECK(test::only_error(exp("file.error", ops + "errno = \"EIO\"\nprobability = 1.5\n"))
            .find("1.5 is not a probability: use a number from 0 to 1 (0.3 for 30%)") != std::string::npos);
  CHECK(test::only_error(exp("file.delay", ops + "delay = \"0ms\"\n"))
            .find("a delay of 0 does nothing: write e.g. delay = \"100ms\"") != std::string::npos);
  CHECK(test::only_error(exp("file.delay", ops + "delay = \"10ms\"\njitter = \"20ms\"\n"))
            .find("jitter cannot exceed delay (an operation cannot wait less than nothing)") != std::string::npos);
  auto relative = "name = \"x\"\n[[targets]]\nname = \"writer\"\nexe = \"writer\"\n[[probes]]\nname = \"p\"\ntype = "
                  "\"command\"\nargv = [\"/bin/true\"]\n[steady_state]\nwindow = \"1s\"\n[[method]]\nname = \"f\"\n"
                  "duration = \"1s\"\n" + step("file.delay", "data", ops + "delay = \"10ms\"\n");
  CHECK(test::only_error(relative).find("'data' is relative: write the absolute path of a folder") != std::string::npos);
  CHECK(test::only_error(exp("file.delay", "delay = \"10ms\"\n")).find("missing required key (add operations") !=
        std::string::npos);
}

namespace {
// The fusermount3 process that watches rebound for auto_unmount of `path`, or 0.
pid_t auto_unmount_watcher(const std::string& path) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string cmdline = test::read_text(e.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.starts_with("fusermount3 ") && cmdline.find("auto_unmount") != std::string::npos &&
        cmdline.find(" " + path + " ") != std::string::npos)
      return std::stoi(e.path().filename().string());
  }
  return 0;
}
}  // namespace

TEST_CASE("file.error: when rebound, its guardian and fusermount3 all die, rebound recover unmounts what is left",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  WriterBed bed;
  test::RunningFault fault(bed.target(), step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"));
  REQUIRE(rebound_mount_on(bed.data));
  const pid_t watcher = auto_unmount_watcher(bed.data);
  REQUIRE(watcher > 0);
  REQUIRE(::kill(watcher, SIGKILL) == 0);
  test::kill_guardian(fault.rebound->pid());
  fault.stop(SIGKILL);
  CHECK(test::wait_for([&] { return auto_unmount_watcher(bed.data) == 0; }, 5000));
  REQUIRE(rebound_mount_on(bed.data));  // nothing is left to remove it but the record
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("unmounted the rebound FUSE mount on " + bed.data) != std::string::npos);
  CHECK_FALSE(rebound_mount_on(bed.data));
  CHECK(count_with(bed.next_lines(3), "ok fsync_ms") >= 2);
  CHECK(fault.records() == 0);
}

TEST_CASE("scenarios/host/file-error.toml passes: the writer's writes fail with EIO, the probe's do not",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  test::TempDir reports;
  auto r = test::run_rebound({"run", test::source("scenarios/host/file-error.toml"), "--report-dir", reports.path(),
                              "--state-dir", reports.path() + "/state", "--no-progress"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto s = test::read_json(reports.path() + "/file-error/journal.json")["steps"][0];
  INFO(s.dump(2));
  CHECK(s["detail"]["operations"]["write"]["failed"].get<uint64_t>() >= 10);
  CHECK(s["effect"].get<std::string>().find("failed with EIO") != std::string::npos);
  CHECK_FALSE(rebound_mount_on("/var/tmp"));
}

TEST_CASE("file.error: after the revert, while rebound runs on, no fusermount3 of the step is left",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  WriterBed bed;
  auto file = bed.dir.write("f.toml", "name = \"f\"\n" + bed.target() +
                                          "[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n"
                                          "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"f\"\n" +
                                          step("file.error", bed.data, "operations = [\"write\"]\nerrno = \"EIO\"\n"
                                                                       "duration = \"1s\"\n") +
                                          "[[method]]\nname = \"after\"\ntype = \"wait\"\nstart = \"1.5s\"\n"
                                          "duration = \"4s\"\n");
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", bed.dir.path() + "/r", "--state-dir",
                       bed.dir.path() + "/state", "--no-progress"});
  REQUIRE(test::wait_for([&] { return rebound_mount_on(bed.data); }, 10'000));
  CHECK(auto_unmount_watcher(bed.data) > 0);
  REQUIRE(test::wait_for([&] { return !rebound_mount_on(bed.data); }, 5000));
  CHECK(test::wait_for([&] { return auto_unmount_watcher(bed.data) == 0; }, 2000));
  CHECK(rebound.alive());
  auto zombie = test::sh("ps -eo stat,comm --ppid " + std::to_string(rebound.pid()) + " | grep -c '^Z.*fusermount3' || true");
  CHECK(zombie == "0\n");
  auto code = rebound.wait(15'000);
  REQUIRE(code);
  INFO(test::read_text(bed.dir.path() + "/r/f/summary.md"));
  CHECK(*code == 0);
}

TEST_CASE("file.error: a target working in a folder under path is told that its relative file names bypass the "
          "mount",
          "[integration][root][file]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  const std::string data = dir.path() + "/data";
  fs::create_directories(data);
  // What redis --dir and postgres do: chdir into the data folder, then open files by relative names.
  test::Child writer({"/bin/sh", "-c", "cd " + data + " && while :; do echo x > relative.txt; sleep 0.02; done"});
  test::RunningFault fault("[[targets]]\nname = \"writer\"\npid = " + std::to_string(writer.pid()) + "\n",
                           "type = \"file.error\"\ntarget = \"writer\"\npath = \"" + data +
                               "\"\noperations = [\"open\", \"write\"]\nerrno = \"EIO\"\nallow_no_effect = true");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  fault.stop();
  auto step = fault.journal()["steps"][0];
  INFO(step.dump(2));
  CHECK(step["detail"]["working_folder_under_path"]["pids"][0] == writer.pid());
  CHECK(step["effect"].get<std::string>().find("works in a folder under " + data +
                                               ", so its relative file names bypass the mount") != std::string::npos);
  CHECK(step["detail"]["operations"]["write"]["failed"] == 0);  // the limit it reports is real
}
