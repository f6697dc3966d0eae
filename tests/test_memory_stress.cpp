// memory.stress as a user sees it: the stressors hold most of a target's memory limit, so the target's next
// allocation ends in an OOM kill that the step reports, and a supervised service is back within the SLO after
// the fault; without a memory cgroup the memory comes from the machine; no stressor outlives a killed rebound.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <thread>

#include "helpers.hpp"
#include "stress_helpers.hpp"
#include "system/kernel_log.hpp"

namespace {

std::string target_of(pid_t pid) { return "[[targets]]\nname = \"service\"\npid = " + std::to_string(pid) + "\n"; }

}  // namespace

TEST_CASE("memory.stress: the supervised demo service in a 64 MiB cgroup is OOM-killed under 90% and recovers",
          "[integration][root][memory]") {
  if (!test::privileged()) return;
  test::TempDir reports;
  auto r = test::run_rebound({"run", test::source("scenarios/host/memory-stress.toml"), "--report-dir", reports.path(),
                              "--state-dir", reports.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(reports.path() + "/host-memory-stress/journal.json");
  auto detail = j["steps"][0]["detail"];
  INFO(detail.dump(2));
  CHECK(j["verdict"] == "passed");
  CHECK(detail["placement"].get<std::string>().find("charged to the target's memory cgroup") != std::string::npos);
  CHECK(detail["cgroup"]["oom_kills"].get<int>() >= 1);
  CHECK(detail["oom_kills_of_target"].get<int>() >= 1);  // the kernel named the service as its victim
  CHECK(detail["resident_bytes"].get<double>() > 0.9 * 0.9 * 64 * 1024 * 1024);
  CHECK_FALSE(detail.contains("stressors_ended_early"));
  CHECK(j["metrics"]["time_to_recover_ms"].get<double>() < 2000);
  CHECK(test::wait_for([] { return test::stressors() == 0; }, 3000));
}

TEST_CASE("memory.stress: in a memory cgroup without a limit the stressors hold the size from the machine's memory",
          "[integration][root][memory]") {
  if (!test::privileged()) return;
  test::Child target({"/bin/sleep", "600"});
  test::RunningFault fault(target_of(target.pid()), "type = \"memory.stress\"\ntarget = \"service\"\nsize = \"48MiB\"");
  CHECK(test::stressors() >= 2);
  fault.stop();
  CHECK(test::wait_for([] { return test::stressors() == 0; }, 3000));
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump(2));
  const std::string placement = detail["placement"];
  CHECK((placement.find("no limit: the machine's memory is what they take") != std::string::npos ||
         placement.find("the whole machine's memory") != std::string::npos));
  CHECK(detail["resident_bytes"].get<double>() >= 0.95 * 48 * 1024 * 1024);
  CHECK(detail["size_bytes"] == 48 * 1024 * 1024);
}

TEST_CASE("memory.stress: a share of a limit the target does not have is refused by the dry run and the run",
          "[integration][root][memory]") {
  if (!test::privileged()) return;
  test::Child target({"/bin/sleep", "600"});
  test::TempDir dir;
  const std::string file = dir.write("x.toml", "name = \"x\"\n" + target_of(target.pid()) +
                             "[[probes]]\nname = \"p\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                             "[steady_state]\nwindow = \"300ms\"\n[[method]]\nname = \"mem\"\ntype = \"memory.stress\"\n"
                             "target = \"service\"\nduration = \"1s\"\nsize = \"90%\"\n");
  auto dry = test::run_rebound({"run", file, "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code == 4);
  CHECK(dry.out.find("cannot run on this host: memory.stress: size = \"90%\" is a share") != std::string::npos);
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find("is a share of the target's memory limit, and") != std::string::npos);
  CHECK(test::stressors() == 0);
}

TEST_CASE("memory.stress: after a SIGKILL of rebound no stressor is left and rebound recover finds none",
          "[integration][root][memory]") {
  if (!test::privileged()) return;
  test::Child target({"/bin/sleep", "600"});
  test::check_recover_ends_stressors(target_of(target.pid()),
                                     "type = \"memory.stress\"\ntarget = \"service\"\nsize = \"32MiB\"\nworkers = 2", 3);
}

TEST_CASE("memory.stress: validation names the key and the fix", "[validation][memory]") {
  auto exp = [](const std::string& step) {
    return "name = \"x\"\n[[targets]]\nname = \"w\"\npid = 1234\n[[probes]]\nname = \"p\"\ntype = \"command\"\n"
           "argv = [\"/bin/true\"]\n[steady_state]\nwindow = \"1s\"\n[[method]]\nname = \"mem\"\ntype = "
           "\"memory.stress\"\ntarget = \"w\"\nduration = \"1s\"\n" + step;
  };
  CHECK(test::only_error(exp("")).find("say how much memory to hold: size = \"512MiB\", or \"90%\" of the target's "
                                       "memory limit") != std::string::npos);
  CHECK(test::only_error(exp("size = \"100B\"\n")).find("is less than a page: write at least \"4KiB\"") !=
        std::string::npos);
  CHECK(test::only_error(exp("size = \"1GiB\"\nworkers = 0\n")).find("0 workers: write 1 to 64") != std::string::npos);
  CHECK(test::only_error(exp("size = \"150%\"\n")).find("is not a share of the target's memory limit") !=
        std::string::npos);
}

TEST_CASE("memory.stress: the kernel's OOM kill line gives the victim's pid command and cgroups", "[unit][memory]") {
  auto kill = rebound::parse_oom_kill(
      "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/rebound-demo-7,"
      "task_memcg=/rebound-demo-7,task=rebound-demo-se,pid=16276,uid=0");
  CHECK(kill.pid == 16276);
  CHECK(kill.command == "rebound-demo-se");
  CHECK(kill.oom_memcg == "/rebound-demo-7");
  CHECK(kill.task_memcg == "/rebound-demo-7");
  CHECK(rebound::parse_oom_kill("Memory cgroup out of memory: Killed process 16276 (rebound-demo-se)").pid == 0);
  CHECK(rebound::parse_oom_kill("oom-kill:task=x,pid=notanumber").pid == 0);
}
