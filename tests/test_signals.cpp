// A chaos tool never leaves a fault behind: SIGTERM, SIGINT, guard aborts and SIGKILL + `rebound recover`.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>

#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using rebound::process_state;

namespace {

// A demo service the test owns, frozen by rebound's process.stop for a long time.
struct FreezeSetup {
  test::TempDir dir;
  int port;
  test::Child service;
  std::string file;
  std::string state = dir.path() + "/state";
  std::string reports = dir.path() + "/r";

  FreezeSetup(int port_, const std::string& extra = "", const std::string& stop_for = "20s")
      : port(port_), service({test::bin("rebound-demo-service"), "--port", std::to_string(port_)}) {
    REQUIRE(test::wait_for([&] { return test::port_open(port); }, 5000));
    file = dir.write("freeze.toml", "name = \"freeze\"\n[[targets]]\nname = \"service\"\npid = " +
                                        std::to_string(service.pid()) +
                                        "\n[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = "
                                        "\"http://127.0.0.1:" +
                                        std::to_string(port) +
                                        "/\"\ninterval = \"50ms\"\ntimeout = \"200ms\"\n[steady_state]\nwindow = "
                                        "\"300ms\"\n[[method]]\nname = \"freeze-service\"\ntype = "
                                        "\"process.stop\"\ntarget = \"service\"\nduration = \"" +
                                        stop_for + "\"\n[slo]\nrecover_within = \"2s\"\n" + extra);
  }
  std::vector<std::string> args() const { return {test::bin("rebound"), "run", file, "--report-dir", reports,
                                                  "--state-dir", state, "--no-progress"}; }
  bool frozen() const { return process_state(service.pid()) == 'T'; }
  size_t records() const {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state, ec)) n += e.path().extension() == ".json";
    return n;
  }
};

void interrupt_mid_fault(int sig, int port) {
  FreezeSetup s(port);
  test::Child rebound(s.args(), s.dir.path() + "/rebound.log");
  REQUIRE(test::wait_for([&] { return s.frozen(); }, 10'000));
  CHECK(s.records() == 1);  // the fault is on record while it is applied
  auto sent = std::chrono::steady_clock::now();
  rebound.signal(sig);
  auto code = rebound.wait(10'000);
  INFO(test::read_text(s.dir.path() + "/rebound.log"));
  REQUIRE(code);
  CHECK(*code == 3);
  // The target was resumed, promptly, and the record cleared.
  CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(5));
  CHECK_FALSE(s.frozen());
  CHECK(s.service.alive());
  CHECK(s.records() == 0);
  auto j = test::read_json(s.reports + "/freeze/journal.json");
  CHECK(j["status"] == "interrupted");
  CHECK(j["verdict"] == "aborted");
  CHECK(j["steps"][0]["status"] == "interrupted");
  CHECK(j["steps"][0]["detail"]["resumed"][0] == s.service.pid());
}

}  // namespace

TEST_CASE("SIGTERM during process.stop resumes the target and the journal says interrupted", "[integration][signals]") {
  interrupt_mid_fault(SIGTERM, 18211);
}

TEST_CASE("SIGINT during process.stop resumes the target and the journal says interrupted", "[integration][signals]") {
  interrupt_mid_fault(SIGINT, 18212);
}

TEST_CASE("SIGKILL of rebound during process.stop, then rebound recover, resumes the target", "[integration][signals]") {
  FreezeSetup s(18213);
  test::Child rebound(s.args(), s.dir.path() + "/rebound.log");
  REQUIRE(test::wait_for([&] { return s.frozen(); }, 10'000));

  SECTION("recover leaves a live rebound's fault alone") {
    auto r = test::run_rebound({"recover", "--state-dir", s.state});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("left alone, rebound pid " + std::to_string(rebound.pid()) + " is still running it") !=
          std::string::npos);
    CHECK(s.frozen());
  }

  // Both rebound and its guardian die (the guardian alone would resume the process at once: test_guardian.cpp).
  test::kill_guardian(rebound.pid());
  rebound.signal(SIGKILL);
  REQUIRE(rebound.wait(5000) == -SIGKILL);
  // rebound could not react: the process is still frozen, and the record says so.
  CHECK(s.frozen());
  REQUIRE(s.records() == 1);

  auto r = test::run_rebound({"recover", "--state-dir", s.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("process.stop 'freeze-service' of experiment 'freeze': sent SIGCONT to pid " +
                   std::to_string(s.service.pid())) != std::string::npos);
  CHECK(test::wait_for([&] { return !s.frozen(); }, 2000));
  CHECK(test::port_open(s.port));
  CHECK(s.records() == 0);

  auto again = test::run_rebound({"recover", "--state-dir", s.state});
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("recover: 0 undone, 0 left to a running rebound, 0 failed") != std::string::npos);
}

TEST_CASE("a guard trips, every fault is reverted at once, recovery is still measured, verdict aborted",
          "[integration][signals]") {
  FreezeSetup s(18214,
                "[[guards]]\nname = \"too-many-errors\"\nprobe = \"health\"\nmax_failure_ratio = 0.5\nwindow = "
                "\"1s\"\nmin_samples = 3\n");
  auto started = std::chrono::steady_clock::now();
  auto r = test::run_rebound({"run", s.file, "--report-dir", s.reports, "--state-dir", s.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 3);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(15));  // not the 20 s of the fault
  CHECK_FALSE(s.frozen());
  CHECK(s.records() == 0);
  CHECK(r.err.find(" warning] [") != std::string::npos);  // the trip is a warning in the log, not info
  CHECK(r.err.find("guard 'too-many-errors' tripped at") != std::string::npos);
  auto j = test::read_json(s.reports + "/freeze/journal.json");
  CHECK(j["verdict"] == "aborted");
  CHECK(j["status"] == "aborted");
  REQUIRE(j["guard_events"].size() == 1);
  CHECK(j["guard_events"][0]["guard"] == "too-many-errors");
  CHECK(j["guard_events"][0]["failure_ratio"].get<double>() > 0.5);
  // The fault was reverted right after the guard tripped, and recovery was measured from there.
  double tripped = j["guard_events"][0]["t_ms"];
  double reverted = j["steps"][0]["reverted_ms"];
  CHECK(reverted - tripped < 200);
  CHECK(j["metrics"]["end_of_impact_ms"] == reverted);
  CHECK(j["metrics"]["time_to_recover_ms"].is_number());
}

TEST_CASE("a completed process.stop resumes the target and measures recovery", "[integration][signals]") {
  FreezeSetup s(18215, "", "1s");
  auto r = test::run_rebound({"run", s.file, "--report-dir", s.reports, "--state-dir", s.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(s.frozen());
  CHECK(s.records() == 0);
  auto j = test::read_json(s.reports + "/freeze/journal.json");
  double applied = j["steps"][0]["applied_ms"], reverted = j["steps"][0]["reverted_ms"];
  CHECK(reverted - applied == Approx(1000).margin(100));
  CHECK(j["metrics"]["phases"]["fault"]["failures"].get<int>() > 0);
  CHECK(j["metrics"]["time_to_recover_ms"].get<double>() < 1000);
}
