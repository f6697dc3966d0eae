// Targets resolve to live processes through /proc; empty and oversized matches are errors.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <unistd.h>

#include "system/targets.hpp"
#include "helpers.hpp"

using namespace rebound;
namespace fs = std::filesystem;

namespace {
// A copy of sleep under a name no other process on the host has.
std::string unique_sleeper(const test::TempDir& dir) {
  std::string path = dir.path() + "/sleeper-" + std::to_string(getpid());
  fs::copy_file("/bin/sleep", path);
  fs::permissions(path, fs::perms::owner_all);
  return path;
}
}  // namespace

TEST_CASE("a target by pid resolves to that process", "[unit][targets]") {
  test::Child child({"/bin/sleep", "30"});
  REQUIRE(test::wait_for([&] { return read_process(child.pid())->comm == "sleep"; }, 2000));  // exec done
  auto r = resolve_target({"t", TargetKind::pid, std::to_string(child.pid()), 1});
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].pid == child.pid());
  CHECK((*r)[0].comm == "sleep");
}

TEST_CASE("a target by pidfile reads the pid from the file", "[unit][targets]") {
  test::TempDir dir;
  test::Child child({"/bin/sleep", "30"});
  auto pidfile = dir.write("svc.pid", std::to_string(child.pid()) + "\n");
  auto r = resolve_target({"t", TargetKind::pidfile, pidfile, 1});
  REQUIRE(r);
  CHECK((*r)[0].pid == child.pid());
}

TEST_CASE("a missing pidfile is a clear error", "[unit][targets]") {
  auto r = resolve_target({"t", TargetKind::pidfile, "/nonexistent/svc.pid", 1});
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "target 't': cannot read pidfile /nonexistent/svc.pid: No such file or directory");
}

TEST_CASE("a target by executable name matches every process of that executable", "[unit][targets]") {
  test::TempDir dir;
  auto sleeper = unique_sleeper(dir);
  test::Child a({sleeper, "30"});
  test::Child b({sleeper, "30"});
  const std::string name = fs::path(sleeper).filename().string();
  REQUIRE(test::wait_for([&] { return match_target({"t", TargetKind::exe, name, 2})->size() == 2; }, 2000));
  auto r = resolve_target({"t", TargetKind::exe, name, 2});
  REQUIRE(r);
  CHECK(r->size() == 2);
  SECTION("more matches than max_targets is an error that lists them") {
    auto limited = resolve_target({"t", TargetKind::exe, name, 1});
    REQUIRE_FALSE(limited);
    CHECK(limited.error().message ==
          "target 't' (exe = \"" + name + "\") matches 2 processes (pids " + std::to_string(std::min(a.pid(), b.pid())) +
              ", " + std::to_string(std::max(a.pid(), b.pid())) +
              ") but max_targets = 1; narrow the match or raise max_targets");
  }
}

TEST_CASE("a target by command line uses a regular expression", "[unit][targets]") {
  test::Child child({"/bin/sleep", "31.4159"});
  REQUIRE(test::wait_for([&] { return !match_target({"t", TargetKind::cmdline, "sleep 31\\.4159$", 1})->empty(); }, 2000));
  auto r = resolve_target({"t", TargetKind::cmdline, "sleep 31\\.4159$", 1});
  REQUIRE(r);
  CHECK((*r)[0].pid == child.pid());
}

TEST_CASE("a target that matches nothing is an error", "[unit][targets]") {
  auto r = resolve_target({"t", TargetKind::exe, "no-such-program-anywhere", 1});
  REQUIRE_FALSE(r);
  // Then the nearest executables it saw (system/target_hints.cpp; tests/test_setup_target.cpp shows them).
  CHECK(r.error().message.starts_with(
      "target 't' (exe = \"no-such-program-anywhere\") matches no running process; closest executables: "));
}

TEST_CASE("rebound never targets itself or its ancestors", "[unit][targets]") {
  // This test binary's own command line matches the pattern; it must still be excluded.
  auto r = match_target({"t", TargetKind::cmdline, "rebound_tests", 10});
  REQUIRE(r);
  for (const auto& p : *r) CHECK(p.pid != getpid());
  auto self = resolve_target({"t", TargetKind::pid, std::to_string(getpid()), 1});
  CHECK_FALSE(self);
}

TEST_CASE("a pid reused by another process is not the same process", "[unit][targets]") {
  test::Child child({"/bin/sleep", "30"});
  auto info = read_process(child.pid());
  REQUIRE(info);
  CHECK(process_is(child.pid(), info->start_time));
  CHECK_FALSE(process_is(child.pid(), info->start_time + 1));
  child.signal(SIGKILL);
  child.wait(2000);
  CHECK_FALSE(process_is(child.pid(), info->start_time));
}
