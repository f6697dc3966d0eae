// cpu.stress as a user sees it: a worker held to half a CPU by its cgroup's quota gets less CPU while the
// stressors share that quota and its share back after; a process outside is not slowed; no stressor outlives
// a rebound killed mid-fault (its keeper ends them, or `rebound recover` does).
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "helpers.hpp"
#include "stress_helpers.hpp"

namespace fs = std::filesystem;

namespace {

// A cgroup with a CPU quota of half a CPU: cgroup v2 when its CPU controller is on, else the v1 cpu hierarchy
// (hybrid hosts such as the build machines).
class HalfCpuCgroup {
 public:
  HalfCpuCgroup() {
    const std::string v1 = "/sys/fs/cgroup/cpu";
    const std::string name = "rebound-test-cpu-" + std::to_string(getpid());
    if (fs::exists(v1 + "/cpu.cfs_quota_us")) {
      path_ = v1 + "/" + name;
      fs::create_directory(path_);
      std::ofstream(path_ + "/cpu.cfs_period_us") << 100000;
      std::ofstream(path_ + "/cpu.cfs_quota_us") << 50000;
    } else {
      path_ = test::cgroup2_root() + "/" + name;
      std::ofstream(test::cgroup2_root() + "/cgroup.subtree_control") << "+cpu";
      fs::create_directory(path_);
      std::ofstream(path_ + "/cpu.max") << "50000 100000";
    }
  }
  ~HalfCpuCgroup() {
    for (int i = 0; i < 100; ++i) {
      std::ifstream procs(path_ + "/cgroup.procs");
      for (pid_t pid; procs >> pid;) kill(pid, SIGKILL);
      if (rmdir(path_.c_str()) == 0 || errno == ENOENT) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void adopt(pid_t pid) const { std::ofstream(path_ + "/cgroup.procs") << pid; }

 private:
  std::string path_;
};

uint64_t cpu_ns(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
  uint64_t ns = 0;
  in >> ns;
  return ns;
}

// The share of one CPU a process used over `window`.
double cpu_share(pid_t pid, std::chrono::milliseconds window = std::chrono::milliseconds(1000)) {
  const uint64_t before = cpu_ns(pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  const double wall = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(cpu_ns(pid) - before) / wall;
}

std::string busy_target(pid_t pid) { return "[[targets]]\nname = \"worker\"\npid = " + std::to_string(pid) + "\n"; }

}  // namespace

TEST_CASE("cpu.stress: a worker with half a CPU of quota gets less CPU under the fault and its share back after",
          "[integration][root][cpu]") {
  if (!test::privileged()) return;
  HalfCpuCgroup cgroup;
  test::Child worker({"/bin/sh", "-c", "while :; do :; done"});
  test::Child outsider({"/bin/sh", "-c", "while :; do :; done"});
  cgroup.adopt(worker.pid());
  const double before = cpu_share(worker.pid());
  const double outsider_before = cpu_share(outsider.pid());
  CHECK(before > 0.35);
  CHECK(before < 0.6);  // the quota holds it at half a CPU
  test::RunningFault fault(busy_target(worker.pid()), "type = \"cpu.stress\"\ntarget = \"worker\"\nworkers = 2");
  const double during = cpu_share(worker.pid());
  const double outsider_during = cpu_share(outsider.pid());
  CHECK(test::stressors() >= 2);
  fault.stop();
  CHECK(test::wait_for([] { return test::stressors() == 0; }, 3000));
  const double after = cpu_share(worker.pid());
  INFO("worker share before " << before << ", during " << during << ", after " << after << "; outsider before "
                              << outsider_before << ", during " << outsider_during);
  CHECK(during < before * 0.6);  // three busy loops share the half CPU: about a third of it each
  CHECK(after > before * 0.7);
  CHECK(outsider_during > outsider_before * 0.6);  // the stressors stay inside the quota
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump(2));
  CHECK(detail["placement"].get<std::string>().find("in the target's cgroup") != std::string::npos);
  CHECK(detail["stressor_cpu_s"].get<double>() > 0.1);
  CHECK(detail["target"]["cpu_share_during"].get<double>() < detail["target"]["cpu_share_before"].get<double>());
}

TEST_CASE("cpu.stress: a target outside any CPU cgroup gets stressors pinned to its CPUs", "[integration][root][cpu]") {
  if (!test::privileged()) return;
  test::Child worker({"/usr/bin/taskset", "-c", "0", "/bin/sh", "-c", "while :; do :; done"});
  test::TempDir dir;
  auto dry = test::run_rebound(
      {"run",
       dir.write("x.toml", "name = \"x\"\n" + busy_target(worker.pid()) +
                               "[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n[steady_state]\n"
                               "window = \"1s\"\n[[method]]\nname = \"cpu\"\ntype = \"cpu.stress\"\ntarget = \"worker\"\n"
                               "duration = \"1s\"\nload = 50\n"),
       "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code == 0);
  CHECK(dry.out.find("would: run 1 stress-ng CPU workers at 50% pinned to the target's CPUs 0") != std::string::npos);
  test::RunningFault fault(busy_target(worker.pid()), "type = \"cpu.stress\"\ntarget = \"worker\"\nload = 50");
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump(2));
  CHECK(detail["placement"].get<std::string>().find("pinned to the target's CPUs 0") != std::string::npos);
  CHECK(detail["workers"] == 1);
}

TEST_CASE("cpu.stress: after a SIGKILL of rebound no stressor is left running", "[integration][root][cpu]") {
  if (!test::privileged()) return;
  test::Child worker({"/bin/sleep", "600"});
  test::RunningFault fault(busy_target(worker.pid()), "type = \"cpu.stress\"\ntarget = \"worker\"\nworkers = 2");
  REQUIRE(test::stressors() >= 2);
  fault.stop(SIGKILL);
  CHECK(test::wait_for([] { return test::stressors() == 0; }, 5000));
}

TEST_CASE("cpu.stress: when rebound its keeper and its guardian all die rebound recover ends the stressors",
          "[integration][root][cpu]") {
  if (!test::privileged()) return;
  test::Child worker({"/bin/sleep", "600"});
  test::check_recover_ends_stressors(busy_target(worker.pid()), "type = \"cpu.stress\"\ntarget = \"worker\"\nworkers = 2", 2);
}

TEST_CASE("cpu.stress: validation names the key and the fix", "[validation][cpu]") {
  auto exp = [](const std::string& step) {
    return "name = \"x\"\n[[targets]]\nname = \"w\"\npid = 1234\n[[probes]]\nname = \"p\"\ntype = \"command\"\n"
           "argv = [\"/bin/true\"]\n[steady_state]\nwindow = \"1s\"\n[[method]]\nname = \"cpu\"\ntype = \"cpu.stress\"\n"
           "target = \"w\"\nduration = \"1s\"\n" + step;
  };
  CHECK(test::only_error(exp("workers = 0\n")).find("0 workers: write 1 to 1024 (or leave it out: one per CPU the "
                                                    "target may use)") != std::string::npos);
  CHECK(test::only_error(exp("load = 150\n")).find("150% load: write a percentage from 1 to 100") != std::string::npos);
}
