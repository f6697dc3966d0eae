// Schedules on a fake clock, and `rebound schedule` as a long-running process that stops cleanly.
#include <catch2/catch.hpp>
#include <unistd.h>
#include <csignal>
#include <filesystem>

#include "history/history.hpp"
#include "gameday/schedule.hpp"
#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using namespace rebound;

namespace {
using test::utc;
Schedule schedule_of(const std::string& toml) {
  auto table = toml::parse(toml);
  Diagnostics d("s.toml");
  TableReader r(table, "schedule", d);
  auto s = parse_schedule(r, "suite");
  INFO(d.format_all());
  REQUIRE(s);
  return *s;
}
}  // namespace

TEST_CASE("schedule: cron starts that fall in a blackout are skipped", "[unit][schedule]") {
  auto s = schedule_of("timezone = \"UTC\"\ncron = [\"0 * * * *\"]\nblackout = [{ cron = \"0 12 * * *\", duration = "
                       "\"2h\" }]\n");
  int skipped = 0;
  CHECK(*s.next_due(utc(2026, 5, 4, 11, 30), &skipped) == utc(2026, 5, 4, 14, 0));  // 12:00 and 13:00 are blacked out
  CHECK(skipped == 2);
  CHECK(s.blackout_at(utc(2026, 5, 4, 13, 59)) == utc(2026, 5, 4, 14, 0));
  CHECK_FALSE(s.blackout_at(utc(2026, 5, 4, 14, 0)));
}

TEST_CASE("schedule: a random start inside each window, the same after a restart", "[unit][schedule]") {
  auto s = schedule_of("timezone = \"UTC\"\nrandom = [{ cron = \"0 9 * * *\", within = \"2h\" }]\n");
  auto due = s.next_due(utc(2026, 5, 4, 0, 0));
  REQUIRE(due);
  CHECK(*due >= utc(2026, 5, 4, 9, 0));
  CHECK(*due < utc(2026, 5, 4, 11, 0));
  CHECK(s.next_due(utc(2026, 5, 4, 0, 0)) == due);           // stable: derived from the window and the suite
  CHECK(*s.next_due(*due) >= utc(2026, 5, 5, 9, 0));          // the window is used once
  CHECK(s.next_due(*due - 1) == due);                         // asked from inside the window, before the start
}

TEST_CASE("schedule: runs missed while rebound was down are counted", "[unit][schedule]") {
  auto s = schedule_of("timezone = \"UTC\"\ncron = [\"0 */6 * * *\"]\nmissed = \"run_once\"\n");
  CHECK(s.missed(utc(2026, 5, 4, 0, 0), utc(2026, 5, 5, 1, 0)) == 4);  // 06, 12, 18, 00
  CHECK(s.run_missed_once);
}

TEST_CASE("schedule: --print-systemd gives a service and a timer", "[integration][schedule]") {
  auto r = test::run_rebound({"schedule", "--print-systemd", test::source("scenarios/gameday/demo-gameday.toml")});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("[Service]\nType=oneshot\n") != std::string::npos);
  CHECK(r.out.find("OnCalendar=Mon..Fri *-*-* 09:00:00 Europe/Berlin\nRandomizedDelaySec=7200\n") != std::string::npos);
  CHECK(r.out.find("Persistent=true") != std::string::npos);
  CHECK(r.out.find("KillSignal=SIGTERM") != std::string::npos);
  // The tests run the build tree's rebound: the unit names the installed one, or warns that it names a build's.
  if (access("/usr/bin/rebound", X_OK) == 0 || access("/usr/local/bin/rebound", X_OK) == 0) {
    CHECK(r.out.find("ExecStart=/usr/") != std::string::npos);
    CHECK(r.err.find("note: ExecStart= names the installed") != std::string::npos);
  } else {
    CHECK(r.out.find("ExecStart=" + test::bin("rebound") + " gameday") != std::string::npos);
    CHECK(r.err.find("a binary inside a build tree") != std::string::npos);
  }
}

TEST_CASE("SIGTERM to rebound schedule mid-experiment: faults reverted, run recorded as interrupted, next start resumes",
          "[integration][schedule][signals]") {
  test::TempDir dir;
  test::Child service({test::bin("rebound-demo-service"), "--port", "18221"});
  REQUIRE(test::wait_for([] { return test::port_open(18221); }, 5000));
  dir.write("freeze.toml", "name = \"freeze\"\n[[targets]]\nname = \"service\"\npid = " + std::to_string(service.pid()) +
                               "\n[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = \"http://127.0.0.1:18221/\"\n"
                               "interval = \"50ms\"\ntimeout = \"200ms\"\n[steady_state]\nwindow = \"300ms\"\n[[method]]\n"
                               "type = \"process.stop\"\ntarget = \"service\"\nduration = \"30s\"\n");
  auto suite = dir.write("suite.toml", "name = \"nightly\"\n[[groups]]\n[[groups.experiments]]\nfile = \"freeze.toml\"\n"
                                       "[schedule]\ntimezone = \"UTC\"\ncron = [\"0 3 * * *\"]\nmissed = \"run_once\"\n");
  const std::string db = dir.path() + "/history.sqlite";
  {
    auto h = History::open(db);
    REQUIRE(h);
    REQUIRE((*h)->set_last_due("nightly", std::time(nullptr) - 3 * 86400));  // rebound was down for three days
  }
  std::vector<std::string> argv{test::bin("rebound"), "schedule", suite, "--report-dir", dir.path() + "/r",
                                "--history", db, "--state-dir", dir.path() + "/s"};
  {
    test::Child scheduler(argv, dir.path() + "/schedule.log");
    REQUIRE(test::wait_for([&] { return process_state(service.pid()) == 'T'; }, 15'000));  // the missed run started
    scheduler.signal(SIGTERM);
    auto code = scheduler.wait(20'000);
    INFO(test::read_text(dir.path() + "/schedule.log"));
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(process_state(service.pid()) != 'T');
    CHECK(test::read_text(dir.path() + "/schedule.log").find("3 run(s) missed while rebound was down; missed = run_once") !=
          std::string::npos);
  }
  auto h = History::open(db);
  REQUIRE(h);
  auto rows = (*h)->runs("freeze", 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].status == "interrupted");
  // A new start resumes: the missed run is done, so it only waits for the next 03:00.
  test::Child again(argv, dir.path() + "/again.log");
  REQUIRE(test::file_contains_soon(dir.path() + "/again.log", "suite nightly: next due", 10'000));
  again.signal(SIGTERM);
  CHECK(again.wait(10'000) == 0);
  auto log = test::read_text(dir.path() + "/again.log");
  CHECK(log.find("missed") == std::string::npos);
  CHECK(log.find("03:00:00 UTC") != std::string::npos);
  CHECK((*h)->runs("freeze", 10)->size() == 1);
}
