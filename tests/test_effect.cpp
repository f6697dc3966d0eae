// No vacuous passes (issue 15 part 3): a fault that reached nothing makes the run inconclusive (exit 2) with a
// reason that names the step and what it saw, unless the step says allow_no_effect; every report states each
// step's effect in one line; process.stop checks that each process really stopped.
#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"
#include "system/targets.hpp"

namespace {

const std::string kQuickRun =
    "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n"
    "[steady_state]\nwindow = \"300ms\"\n[slo]\nstable_for = \"200ms\"\n";

std::string pid_target(pid_t pid) {
  return "[[targets]]\nname = \"victim\"\npid = " + std::to_string(pid) + "\n";
}

struct Outcome {
  test::RunOutput out;
  nlohmann::json journal;
  std::string reports;
};

Outcome run(const test::TempDir& dir, const std::string& name, const std::string& body) {
  auto file = dir.write(name + ".toml", "name = \"" + name + "\"\n" + kQuickRun + body);
  Outcome o;
  o.reports = dir.path() + "/r";
  o.out = test::run_rebound({"run", file, "--report-dir", o.reports, "--state-dir", dir.path() + "/s"});
  o.journal = test::read_json(o.reports + "/" + name + "/journal.json");
  return o;
}

// A process in uninterruptible sleep that SIGSTOP cannot stop: a parent waiting for its vfork child, which
// pauses instead of exec'ing. Both are killed at the end.
struct Unstoppable {
  pid_t parent = -1, child = -1;
  Unstoppable() {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    parent = fork();
    REQUIRE(parent >= 0);
    if (parent == 0) {
      pid_t c = vfork();
      if (c == 0) {
        pid_t self = getpid();
        (void)!write(fds[1], &self, sizeof self);
        pause();
        _exit(0);
      }
      _exit(0);
    }
    close(fds[1]);
    REQUIRE(read(fds[0], &child, sizeof child) == sizeof child);
    close(fds[0]);
    REQUIRE(test::wait_for([&] { return rebound::process_state(parent) == 'D'; }, 3000));
  }
  ~Unstoppable() {
    kill(child, SIGKILL);
    kill(parent, SIGKILL);
    waitpid(parent, nullptr, 0);
  }
};

}  // namespace

TEST_CASE("a network.loss on a process that sends nothing: inconclusive, exit 2, the reason names the step",
          "[root][effect]") {
  if (!test::privileged()) return;
  test::Child quiet({"/bin/sleep", "60"});
  test::TempDir dir;
  const std::string step = "[[method]]\nname = \"cut-db\"\ntype = \"network.loss\"\ntarget = \"victim\"\n"
                           "probability = 1.0\nduration = \"1s\"\n";
  SECTION("without allow_no_effect") {
    auto o = run(dir, "quiet", pid_target(quiet.pid()) + step);
    INFO(o.out.out << o.out.err);
    CHECK(o.out.exit_code == 2);
    CHECK(o.journal["verdict"] == "inconclusive");
    REQUIRE(o.journal["reasons"].size() == 1);
    CHECK(o.journal["reasons"][0].get<std::string>().starts_with(
        "step cut-db affected 0 of 0 packets: the target sent nothing matching during the fault"));
    CHECK(o.journal["steps"][0]["no_effect"] == true);
    CHECK(o.out.out.find("step cut-db affected 0 of 0 packets") != std::string::npos);
  }
  SECTION("with allow_no_effect = true") {
    auto o = run(dir, "quiet-ok", pid_target(quiet.pid()) + step + "allow_no_effect = true\n");
    INFO(o.out.out << o.out.err);
    CHECK(o.out.exit_code == 0);
    CHECK(o.journal["verdict"] == "passed");
    CHECK(o.journal["steps"][0]["effect"] == "affected 0 of 0 packets: the target sent nothing matching during the fault");
  }
}

TEST_CASE("process.stop checks the stopped state and every report states the effect", "[integration][effect]") {
  test::Child sleeper({"/bin/sleep", "60"});
  test::TempDir dir;
  auto o = run(dir, "freeze", pid_target(sleeper.pid()) +
                                  "[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\ntarget = \"victim\"\n"
                                  "duration = \"500ms\"\n");
  INFO(o.out.out << o.out.err);
  CHECK(o.out.exit_code == 0);
  const auto& s = o.journal["steps"][0];
  CHECK(s["effect"] == "stopped 1 of 1 processes (state T)");
  CHECK(s["no_effect"] == false);
  REQUIRE(s["detail"]["stopped"].size() == 1);
  CHECK(s["detail"]["stopped"][0]["pid"] == sleeper.pid());
  CHECK(s["detail"]["stopped"][0]["state"] == "T");
  CHECK(rebound::process_state(sleeper.pid()) != 'T');
  const std::string effect = "stopped 1 of 1 processes (state T)";
  CHECK(test::read_text(o.reports + "/freeze/summary.md").find(effect) != std::string::npos);
  CHECK(test::read_text(o.reports + "/freeze/report.html").find(effect) != std::string::npos);
  CHECK(test::read_text(o.reports + "/junit.xml").find("name=\"step.freeze.effect\" value=\"" + effect) !=
        std::string::npos);
}

TEST_CASE("process.stop on a process that cannot stop: no effect for it, the run is inconclusive",
          "[integration][effect]") {
  Unstoppable d;
  test::TempDir dir;
  auto o = run(dir, "stuck", pid_target(d.parent) +
                                 "[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\ntarget = \"victim\"\n"
                                 "duration = \"300ms\"\n");
  INFO(o.out.out << o.out.err);
  CHECK(o.out.exit_code == 2);
  CHECK(o.journal["verdict"] == "inconclusive");
  const std::string saw = "stopped 0 of 1 processes: pid " + std::to_string(d.parent) + " did not stop (state D)";
  CHECK(o.journal["steps"][0]["effect"] == saw);
  CHECK(o.journal["steps"][0]["detail"]["not_stopped"][0]["state"] == "D");
  REQUIRE(o.journal["reasons"].size() == 1);
  CHECK(o.journal["reasons"][0].get<std::string>().starts_with("step freeze " + saw));
}

TEST_CASE("a kill that signalled a process had an effect", "[integration][effect]") {
  test::Child sleeper({"/bin/sleep", "60"});
  test::TempDir dir;
  auto o = run(dir, "kill", pid_target(sleeper.pid()) +
                                "[[method]]\nname = \"kill\"\ntype = \"process.kill\"\ntarget = \"victim\"\n");
  INFO(o.out.out << o.out.err);
  CHECK(o.out.exit_code == 0);
  CHECK(o.journal["steps"][0]["effect"] == "sent SIGKILL to 1 process");
  CHECK(sleeper.wait(5000) == -SIGKILL);
}

TEST_CASE("rebound faults documents allow_no_effect", "[integration][effect]") {
  auto r = test::run_rebound({"faults"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("Faults also take allow_no_effect (default false)") != std::string::npos);
}
