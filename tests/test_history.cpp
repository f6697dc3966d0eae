// Run history, trends, and the regression gate a pipeline uses: --baseline last|ID.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/wait.h>
#include <unistd.h>

#include "history/history.hpp"
#include "experiments/runner.hpp"
#include "helpers.hpp"
#include "system/subprocess.hpp"

namespace fs = std::filesystem;

namespace {
// The supervised demo with its own port and restart delay: a slower restart means a slower recovery.
std::string demo_with_delay(const test::TempDir& dir, const std::string& file, int delay_ms) {
  std::ifstream in(test::source("scenarios/demo/kill-supervised.toml"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text = std::regex_replace(text, std::regex("\"--restart-delay-ms\", \"150\""),
                            "\"--restart-delay-ms\", \"" + std::to_string(delay_ms) + "\"");
  text = std::regex_replace(text, std::regex("18181"), "18197");
  return dir.write(file, text);
}
}  // namespace

TEST_CASE("the regression criterion allows the declared margin over the baseline", "[unit][history]") {
  auto ok = rebound::regression_criterion(230, 200, 7, 0.2);
  CHECK(ok.passed);
  CHECK(ok.limit == Approx(240));
  auto slow = rebound::regression_criterion(300, 200, 7, 0.2);
  CHECK_FALSE(slow.passed);
  CHECK(slow.detail == "recovered in 300 ms; baseline run 7 recovered in 200 ms; limit ≤ 240 ms (+20%)");
}

TEST_CASE("history records each run, and a slower recovery against --baseline last fails the gate", "[integration][history]") {
  test::TempDir dir;
  const std::string db = dir.path() + "/history.sqlite";
  auto fast = demo_with_delay(dir, "fast.toml", 50);
  auto slow = demo_with_delay(dir, "slow.toml", 900);
  auto first = test::run_rebound({"run", fast, "--report-dir", dir.path() + "/r1", "--state-dir", dir.path() + "/s",
                                  "--history", db, "--baseline", "last"});
  INFO(first.out << first.err);
  CHECK(first.exit_code == 0);  // nothing to compare with yet
  CHECK(first.err.find("no baseline run of demo-kill-supervised in the history yet") != std::string::npos);

  auto second = test::run_rebound({"run", slow, "--report-dir", dir.path() + "/r2", "--state-dir", dir.path() + "/s",
                                   "--history", db, "--baseline", "last"});
  INFO(second.out << second.err);
  CHECK(second.exit_code == 1);
  auto j = test::read_json(dir.path() + "/r2/demo-kill-supervised/journal.json");
  CHECK(j["verdict"] == "failed");
  bool found = false;
  for (const auto& c : j["slo"])
    if (c["criterion"] == "regression.time_to_recover") {
      found = true;
      CHECK(c["passed"] == false);
    }
  CHECK(found);
  CHECK(test::read_text(dir.path() + "/r2/junit.xml").find("name=\"regression.time_to_recover\"") != std::string::npos);

  // Against run 1 explicitly, with the same outcome; against a run id that does not exist, nothing to compare.
  auto history = rebound::History::open(db);
  REQUIRE(history);
  auto rows = (*history)->runs("demo-kill-supervised", 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].verdict == "failed");
  CHECK((*rows)[1].verdict == "passed");
  CHECK(*(*rows)[0].time_to_recover_ms > *(*rows)[1].time_to_recover_ms);

  auto listed = test::run_rebound({"history", "--history", db});
  CHECK(listed.exit_code == 0);
  CHECK(std::regex_search(listed.out, std::regex("\\n +2  \\S+ +demo-kill-supervised +failed")));
  auto trend = test::run_rebound({"history", "--history", db, "--trend"});
  CHECK(trend.out.find("demo-kill-supervised: time to recover over 2 runs") != std::string::npos);
  CHECK(std::regex_search(trend.out, std::regex("run +2 .* ms  #{40}\\n")));  // the slowest run has the full bar
}

TEST_CASE("a baseline that is not last or a number is an error", "[integration][history]") {
  test::TempDir dir;
  auto history = rebound::History::open(dir.path() + "/h.sqlite");
  REQUIRE(history);
  auto r = (*history)->baseline("x", "yesterday");
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "--baseline takes \"last\" or a run id from `rebound history`, not 'yesterday'");
}

TEST_CASE("a history made before time to heal gains its column and keeps its runs", "[unit][history][heal]") {
  test::TempDir dir;
  const std::string db = dir.path() + "/old.sqlite";
  // The runs table as rebound wrote it before issue 15, with one run in it.
  rebound::CommandSpec make_old;
  make_old.argv = {"python3", "-c",
       "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE runs (id INTEGER PRIMARY KEY "
       "AUTOINCREMENT, experiment TEXT NOT NULL, started_at TEXT NOT NULL, verdict TEXT NOT NULL, status TEXT NOT "
       "NULL, host TEXT, journal TEXT, time_to_recover_ms REAL, time_to_impact_ms REAL, error_ratio REAL, p50_ms "
       "REAL, p95_ms REAL, p99_ms REAL, duration_ms REAL)'); c.execute(\"INSERT INTO runs (experiment, started_at, "
       "verdict, status, time_to_recover_ms) VALUES ('x', 't', 'passed', 'completed', 250)\"); c.commit()",
       db};
  auto made = rebound::run_command(make_old);
  REQUIRE(made);
  INFO(made->err);
  REQUIRE(made->exit_code == 0);
  auto history = rebound::History::open(db);
  REQUIRE(history);
  auto runs = (*history)->runs("x", 10);
  REQUIRE(runs);
  REQUIRE(runs->size() == 1);
  CHECK((*runs)[0].time_to_recover_ms == 250);
  CHECK_FALSE((*runs)[0].time_to_heal_ms);
  nlohmann::json j = {{"experiment", {{"name", "x"}}}, {"started_at", "t2"}, {"verdict", "passed"},
                      {"status", "completed"}, {"metrics", {{"time_to_heal_ms", 1100.0}, {"phases", nlohmann::json::object()}}}};
  REQUIRE((*history)->record(j, "j.json"));
  auto again = (*history)->runs("x", 10);
  REQUIRE(again);
  REQUIRE(again->size() == 2);
  CHECK((*again)[0].time_to_heal_ms == 1100);
  // Opening it again does not add the column twice.
  REQUIRE(rebound::History::open(db));
}

TEST_CASE("the default history is one per user and host: REBOUND_HISTORY, /var/lib/rebound for root, XDG state "
          "otherwise",
          "[unit][history]") {
  using rebound::default_history_path;
  CHECK(default_history_path(true, nullptr, "/x", "/root") == "/var/lib/rebound/history.sqlite");
  CHECK(default_history_path(true, "/ci/h.sqlite", nullptr, "/root") == "/ci/h.sqlite");
  CHECK(default_history_path(false, nullptr, "/home/u/.state", "/home/u") == "/home/u/.state/rebound/history.sqlite");
  CHECK(default_history_path(false, nullptr, nullptr, "/home/u") == "/home/u/.local/state/rebound/history.sqlite");
  CHECK(default_history_path(false, nullptr, "relative", "/home/u") == "/home/u/.local/state/rebound/history.sqlite");
  CHECK(default_history_path(false, "", nullptr, "/home/u") == "/home/u/.local/state/rebound/history.sqlite");
}

TEST_CASE("runs with a fresh report folder each, from different folders, share the user's history: --baseline last "
          "finds the earlier run, rebound history lists both",
          "[integration][history]") {
  test::TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);  // the unprivileged user below writes here
  const std::string home = dir.path() + "/home";
  fs::create_directories(dir.path() + "/a");
  fs::create_directories(dir.path() + "/b");
  fs::create_directories(home);
  auto file = dir.write("x.toml", "name = \"history-home\"\n[[probes]]\nname = \"ok\"\ntype = \"command\"\n"
                                  "argv = [\"/bin/true\"]\ninterval = \"50ms\"\n[steady_state]\nwindow = \"100ms\"\n"
                                  "[[method]]\nname = \"pause\"\ntype = \"wait\"\nduration = \"100ms\"\n");
  // As an unprivileged user when the test runs as root (root's default is /var/lib/rebound, not to be touched here).
  const std::string as_user = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  fs::permissions(dir.path() + "/a", fs::perms::all);
  fs::permissions(dir.path() + "/b", fs::perms::all);
  fs::permissions(home, fs::perms::all);
  // A copy the unprivileged user can reach whatever the permissions of the build folder's parents.
  const std::string rebound = dir.path() + "/rebound";
  fs::copy_file(test::bin("rebound"), rebound);
  auto run = [&](const std::string& cwd, const std::string& args) {
    const std::string out = dir.path() + "/out.txt";
    const std::string cmd = "cd " + cwd + " && env -u REBOUND_HISTORY -u XDG_STATE_HOME HOME=" + home + " " + as_user + rebound +
                            " " + args + " > " + out + " 2>&1";
    const int status = std::system(cmd.c_str());
    return std::make_pair(WEXITSTATUS(status), test::read_text(out));
  };
  auto first = run(dir.path() + "/a", "run " + file + " --no-progress --state-dir " + dir.path() + "/a/state");
  INFO(first.second);
  REQUIRE(first.first == 0);
  auto second = run(dir.path() + "/b", "run " + file + " --no-progress --baseline last --state-dir " + dir.path() +
                                           "/b/state");
  INFO(second.second);
  CHECK(second.first == 0);
  CHECK(second.second.find("no baseline run") == std::string::npos);
  CHECK(fs::exists(home + "/.local/state/rebound/history.sqlite"));
  auto listed = run(dir.path(), "history --experiment history-home");
  INFO(listed.second);
  CHECK(listed.first == 0);
  size_t rows = 0;
  for (size_t at = 0; (at = listed.second.find("history-home", at)) != std::string::npos; ++at) ++rows;
  CHECK(rows == 2);
}
