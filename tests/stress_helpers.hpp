#pragma once
// What the stress faults' tests share: counting stress-ng processes, and the check that `rebound recover` ends
// them when rebound, its keeper and its guardian are all gone.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <thread>

#include "helpers.hpp"

namespace test {

// Live stress-ng processes (stress-ng and its stressors; zombies not counted).
inline size_t stressors() {
  return std::stoul(sh("ps -eo stat=,comm= | awk '$1 !~ /^Z/ && $2 ~ /^stress-ng/' | wc -l"));
}

// Starts the fault, kills rebound's keeper, its guardian and rebound (SIGKILL), and checks that the stressors
// outlive them until `rebound recover` ends them by the record.
inline void check_recover_ends_stressors(const std::string& targets, const std::string& step, size_t at_least) {
  RunningFault fault(targets, step);
  REQUIRE(stressors() >= at_least);
  sh("pkill -KILL -P " + std::to_string(fault.rebound->pid()) + " -x rebound-keeper || true");
  kill_guardian(fault.rebound->pid());
  fault.stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(stressors() >= at_least);  // nothing is left to end them but the record
  auto r = run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("stressor processes") != std::string::npos);
  CHECK(wait_for([] { return stressors() == 0; }, 3000));
  CHECK(fault.records() == 0);
}

}  // namespace test
