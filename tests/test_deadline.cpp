// Every lasting fault has a hard deadline (duration + 2 s) that the guardian enforces by itself: a fault never
// outlives it even when rebound's main loop hangs or rebound is stopped (issue 16).
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>

#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using rebound::process_state;

namespace {

size_t json_files(const std::string& state) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(state, ec); it != fs::recursive_directory_iterator(); ++it)
    n += it->path().extension() == ".json";
  return n;
}

// A fault record with its hard deadline in the state directory.
bool has_deadline(const std::string& state) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state, ec))
    if (e.path().filename().string().starts_with("fault-") &&
        test::read_text(e.path().string()).find("deadline_unix_ms") != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("deadline: rebound stopped mid process.stop: the guardian ends the fault at duration + margin, the run "
          "ends error saying so",
          "[integration][guardian][deadline]") {
  test::TempDir dir;
  const std::string state = dir.path() + "/state", reports = dir.path() + "/r", log = dir.path() + "/rebound.log";
  test::Child sleeper({"/bin/sleep", "120"});
  auto file = dir.write("x.toml", "name = \"stall\"\n[[targets]]\nname = \"victim\"\npid = " +
                                      std::to_string(sleeper.pid()) +
                                      "\n[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                      "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n[[method]]\n"
                                      "name = \"freeze\"\ntype = \"process.stop\"\ntarget = \"victim\"\n"
                                      "duration = \"1s\"\n");
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", reports, "--state-dir", state, "--no-progress"},
                      log);
  REQUIRE(test::wait_for([&] { return process_state(sleeper.pid()) == 'T'; }, 15'000));
  REQUIRE(test::wait_for([&] { return has_deadline(state); }, 5000));  // written just after the apply
  const auto applied = std::chrono::steady_clock::now();
  rebound.signal(SIGSTOP);  // its main loop and every step thread stop: nothing of rebound reverts the fault
  auto since_apply = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - applied).count();
  };
  // Past its duration, the fault lasts on while rebound is stopped (no early revert)...
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  CHECK(process_state(sleeper.pid()) == 'T');
  // ...until its hard deadline, 1 s + 2 s after it was applied.
  REQUIRE(test::wait_for([&] { return process_state(sleeper.pid()) != 'T'; }, 5000));
  const double ms = since_apply();
  WARN("the guardian ended the fault " << ms << " ms after it was applied (deadline 3000 ms)");
  CHECK(ms >= 2900);
  CHECK(ms < 3000 + 1500);
  CHECK(process_state(rebound.pid()) == 'T');  // rebound is still stopped: the guardian did it alone
  CHECK(test::read_text(state + "/guardian.log").find("did not revert process.stop 'freeze' of experiment 'stall' "
                                                      "by its deadline") != std::string::npos);

  rebound.signal(SIGCONT);
  auto code = rebound.wait(20'000);
  INFO(test::read_text(log));
  REQUIRE(code);
  CHECK(*code == 4);  // error
  auto j = test::read_json(reports + "/stall/journal.json");
  CHECK(j["verdict"] == "error");
  CHECK(j["reasons"].dump().find("the guardian ended this fault at its hard deadline (duration 1s + margin 2s)") !=
        std::string::npos);
  CHECK(process_state(sleeper.pid()) != 'T');
  CHECK(test::wait_for([&] { return json_files(state) == 0; }, 2000));  // record, hold and marker all gone
}

TEST_CASE("deadline: a run that is not stalled never meets the guardian", "[integration][guardian][deadline]") {
  test::TempDir dir;
  const std::string state = dir.path() + "/state", reports = dir.path() + "/r";
  test::Child sleeper({"/bin/sleep", "120"});
  auto file = dir.write("x.toml", "name = \"calm\"\n[[targets]]\nname = \"victim\"\npid = " +
                                      std::to_string(sleeper.pid()) +
                                      "\n[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                      "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n[[method]]\n"
                                      "name = \"freeze\"\ntype = \"process.stop\"\ntarget = \"victim\"\n"
                                      "duration = \"500ms\"\n[slo]\nobserve_for = \"1s\"\n");
  auto r = test::run_rebound({"run", file, "--report-dir", reports, "--state-dir", state, "--no-progress"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(test::read_text(state + "/guardian.log").find("by its deadline") == std::string::npos);
  CHECK(json_files(state) == 0);
}
