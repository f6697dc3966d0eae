// The emergency stop (issue 16): `rebound halt` makes every running rebound revert its faults at once and end
// `aborted` with the halt's reason; while halted `rebound run` refuses (exit 5) and `rebound schedule` skips its
// starts; `rebound resume` lifts it; `rebound status` says what runs.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>

#include "history/history.hpp"
#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using rebound::process_state;

namespace {

// A process.stop of `pid` lasting a minute, with a probe every 500 ms: the halt must act within one interval.
std::string freeze(const std::string& name, pid_t pid) {
  return "name = \"" + name + "\"\n[[targets]]\nname = \"victim\"\npid = " + std::to_string(pid) +
         "\n[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"500ms\"\n"
         "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\n"
         "target = \"victim\"\nduration = \"60s\"\n";
}

bool frozen(pid_t pid) { return process_state(pid) == 'T'; }
bool running(pid_t pid) {
  char s = process_state(pid);
  return s == 'S' || s == 'R';
}

size_t fault_records(const std::string& state) {
  size_t n = 0;
  std::error_code ec;
  // Not the .tmp a record is rewritten through (its deadline is added just after the fault is applied).
  for (const auto& e : fs::directory_iterator(state, ec)) {
    const std::string name = e.path().filename().string();
    n += name.starts_with("fault-") && name.ends_with(".json");
  }
  return n;
}

// `rebound run` of one experiment in the background, in `dir`, with the shared state directory.
struct Run {
  std::string reports, log;
  std::unique_ptr<test::Child> child;
  Run(const test::TempDir& dir, const std::string& name, const std::string& toml, const std::string& state)
      : reports(dir.path() + "/r-" + name), log(dir.path() + "/" + name + ".log") {
    auto file = dir.write(name + ".toml", toml);
    child = std::make_unique<test::Child>(std::vector<std::string>{test::bin("rebound"), "run", file, "--report-dir",
                                                                   reports, "--state-dir", state, "--no-progress"},
                                          log);
  }
  nlohmann::json journal(const std::string& name) const { return test::read_json(reports + "/" + name + "/journal.json"); }
};

}  // namespace

TEST_CASE("halt: two running experiments revert at once, end aborted with the reason, and run refuses until resume",
          "[integration][halt]") {
  test::TempDir dir;
  const std::string state = dir.path() + "/state";
  test::Child a({"/bin/sleep", "120"}), b({"/bin/sleep", "120"});
  Run one(dir, "one", freeze("one", a.pid()), state), two(dir, "two", freeze("two", b.pid()), state);
  REQUIRE(test::wait_for([&] { return frozen(a.pid()) && frozen(b.pid()); }, 15'000));
  REQUIRE(fault_records(state) == 2);

  auto status = test::run_rebound({"status", "--state-dir", state});
  INFO(status.out);
  CHECK(status.exit_code == 0);
  CHECK(status.out.find("host: not halted") != std::string::npos);
  CHECK(status.out.find("running: 2 rebound(s)") != std::string::npos);
  CHECK(status.out.find("pid " + std::to_string(one.child->pid()) + "  experiment 'one'  phase method") !=
        std::string::npos);
  CHECK(status.out.find("step 'freeze' (process.stop) applied, hard deadline in") != std::string::npos);

  auto sent = std::chrono::steady_clock::now();
  auto halt = test::run_rebound({"halt", "--reason", "outage INC-42", "--state-dir", state});
  REQUIRE(test::wait_for([&] { return running(a.pid()) && running(b.pid()); }, 5000));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
  WARN("both processes resumed " << ms << " ms after `rebound halt` started (probe interval 500 ms)");
  INFO(halt.out << halt.err);
  CHECK(halt.exit_code == 0);
  CHECK(halt.out.find("no fault is applied") != std::string::npos);
  CHECK(ms < 500 + 300);  // one probe interval, plus the start of the halt command itself on a busy machine
  for (auto* r : {&one, &two}) {
    INFO(test::read_text(r->log));
    CHECK(r->child->wait(10'000) == 3);  // aborted
  }
  for (auto [r, name] : {std::pair{&one, "one"}, {&two, "two"}}) {
    auto j = r->journal(name);
    CHECK(j["verdict"] == "aborted");
    CHECK(j["reasons"].dump().find("outage INC-42") != std::string::npos);
    CHECK(test::read_text(r->reports + "/" + name + "/summary.md").find("outage INC-42") != std::string::npos);
  }
  CHECK(fault_records(state) == 0);
  CHECK(running(a.pid()));
  CHECK(running(b.pid()));

  // While halted: `rebound run` refuses with exit 5 and injects nothing; status says so.
  auto refused = test::run_rebound({"run", dir.path() + "/one.toml", "--report-dir", dir.path() + "/r3", "--state-dir",
                                    state, "--no-progress"});
  CHECK(refused.exit_code == 5);
  CHECK(refused.err.find("error: this host is halted since") != std::string::npos);
  CHECK(refused.err.find("outage INC-42") != std::string::npos);
  CHECK(refused.err.find("`rebound resume` lifts the halt") != std::string::npos);
  CHECK(!fs::exists(dir.path() + "/r3/one"));
  CHECK(running(a.pid()));
  CHECK(test::run_rebound({"status", "--state-dir", state}).out.find("host: halted since") != std::string::npos);

  auto resumed = test::run_rebound({"resume", "--state-dir", state});
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.out.find("resume: the halt is lifted") != std::string::npos);
  Run again(dir, "again", freeze("again", a.pid()), state);
  CHECK(test::wait_for([&] { return frozen(a.pid()); }, 15'000));
  again.child->signal(SIGTERM);
  CHECK(again.child->wait(10'000) == 3);
  CHECK(running(a.pid()));
}

TEST_CASE("halt: a halt written before rebound starts survives, and gameday refuses too", "[integration][halt]") {
  test::TempDir dir;
  const std::string state = dir.path() + "/state";
  REQUIRE(test::run_rebound({"halt", "--state-dir", state}).exit_code == 0);
  test::Child a({"/bin/sleep", "120"});
  auto file = dir.write("x.toml", freeze("x", a.pid()));
  auto suite = dir.write("suite.toml", "name = \"s\"\n[[groups]]\n[[groups.experiments]]\nfile = \"x.toml\"\n");
  auto run = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", state});
  CHECK(run.exit_code == 5);
  CHECK(run.err.find("emergency stop (no reason given)") != std::string::npos);
  auto gameday = test::run_rebound({"gameday", suite, "--report-dir", dir.path() + "/g", "--state-dir", state});
  CHECK(gameday.exit_code == 5);
  CHECK(running(a.pid()));
  CHECK(test::run_rebound({"resume", "--state-dir", state}).exit_code == 0);
  CHECK(test::run_rebound({"resume", "--state-dir", state}).out.find("was not halted") != std::string::npos);
}

TEST_CASE("halt: the schedule skips a start while halted, logs the reason, and runs it once resumed",
          "[integration][halt][schedule]") {
  test::TempDir dir;
  test::Child a({"/bin/sleep", "120"});
  dir.write("x.toml", freeze("x", a.pid()));
  auto suite = dir.write("suite.toml", "name = \"nightly\"\n[[groups]]\n[[groups.experiments]]\nfile = \"x.toml\"\n"
                                       "[schedule]\ntimezone = \"UTC\"\ncron = [\"0 3 * * *\"]\nmissed = \"run_once\"\n");
  const std::string db = dir.path() + "/history.sqlite", state = dir.path() + "/state";
  {
    auto h = rebound::History::open(db);
    REQUIRE(h);
    REQUIRE((*h)->set_last_due("nightly", std::time(nullptr) - 3 * 86400));  // a missed run is due at start
  }
  REQUIRE(test::run_rebound({"halt", "--reason", "freeze for the release", "--state-dir", state}).exit_code == 0);
  const std::string log = dir.path() + "/schedule.log";
  test::Child scheduler({test::bin("rebound"), "schedule", suite, "--report-dir", dir.path() + "/r", "--history", db,
                         "--state-dir", state},
                        log);
  CHECK(test::file_contains_soon(log, "skipped (`rebound resume` lifts the halt)", 10'000));
  INFO(test::read_text(log));
  CHECK(test::read_text(log).find("freeze for the release") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CHECK(running(a.pid()));  // nothing started
  REQUIRE(test::run_rebound({"resume", "--state-dir", state}).exit_code == 0);
  CHECK(test::wait_for([&] { return frozen(a.pid()); }, 15'000));
  CHECK(test::read_text(log).find("a start was skipped while the host was halted; missed = run_once") !=
        std::string::npos);
  scheduler.signal(SIGTERM);
  CHECK(scheduler.wait(20'000) == 0);
  CHECK(running(a.pid()));
}
