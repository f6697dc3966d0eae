// One test per validation message of a suite, its schedule and the command line that had none (issue 10 item 6),
// with the file, line, column and key a user sees.
#include <catch2/catch.hpp>

#include "gameday/suite.hpp"
#include "helpers.hpp"

using namespace rebound;

namespace {

const std::string kExperiment =
    "[[probes]]\nname = \"up\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n";

// The suite's diagnostics for its text; the experiment files it may list are a.toml and b.toml (both named "a").
std::string suite_errors(const std::string& text) {
  test::TempDir dir;
  dir.write("a.toml", "name = \"a\"\n" + kExperiment);
  dir.write("b.toml", "name = \"a\"\n" + kExperiment);
  const std::string path = dir.write("suite.toml", text);
  auto loaded = load_suite(path, LoadOptions{"/"});
  CHECK_FALSE(loaded.ok());
  std::string all = loaded.format_all();
  REQUIRE(all.starts_with(path));
  return "suite.toml" + all.substr(path.size());
}

const std::string kGroup = "[[groups]]\nname = \"g\"\n[[groups.experiments]]\nfile = \"a.toml\"\n";

// A suite whose [schedule] table starts on line 6 with the given keys.
std::string scheduled(const std::string& keys) {
  return "name = \"s\"\n" + kGroup + "[schedule]\ntimezone = \"UTC\"\n" + keys;
}

}  // namespace

// ---- the suite ----

TEST_CASE("message: a suite's on_failure that is neither continue nor stop", "[unit][validation][messages][suite]") {
  CHECK(suite_errors("name = \"s\"\non_failure = \"halt\"\n" + kGroup) ==
        "suite.toml:2:14: error: on_failure: 'halt': use \"continue\" or \"stop\"\n");
}

TEST_CASE("message: a suite without groups", "[unit][validation][messages][suite]") {
  CHECK(suite_errors("name = \"s\"\n") ==
        "suite.toml:1:1: error: groups: a suite needs at least one [[groups]] with [[groups.experiments]]\n");
}

TEST_CASE("message: a suite group without experiments", "[unit][validation][messages][suite]") {
  CHECK(suite_errors("name = \"s\"\n[[groups]]\nname = \"g\"\n") ==
        "suite.toml:2:1: error: groups[0].experiments: add at least one [[groups.experiments]] with file = \"...\"\n");
}

TEST_CASE("message: two entries of a suite with the same experiment", "[unit][validation][messages][suite]") {
  CHECK(suite_errors("name = \"s\"\n" + kGroup + "[[groups.experiments]]\nfile = \"b.toml\"\n") ==
        "suite.toml:7:8: error: groups[0].experiments[1].file: experiment 'a' appears twice in the suite: its reports "
        "would collide; use repeat\n");
}

// ---- its schedule ----

TEST_CASE("message: a schedule window that is not a table", "[unit][validation][messages][schedule]") {
  CHECK(suite_errors(scheduled("random = [\"0 9 * * *\"]\n")) ==
        "suite.toml:8:10: error: schedule.random: each entry is a table such as { cron = \"0 9 * * 1-5\", within = "
        "\"8h\" }\n");
  CHECK(suite_errors(scheduled("cron = [\"0 9 * * *\"]\nblackout = [\"0 12 * * *\"]\n")) ==
        "suite.toml:9:12: error: schedule.blackout: each entry is a table such as { cron = \"0 9 * * 1-5\", duration = "
        "\"8h\" }\n");
}

TEST_CASE("message: a schedule's missed that is neither skip nor run_once", "[unit][validation][messages][schedule]") {
  CHECK(suite_errors(scheduled("cron = [\"0 9 * * *\"]\nmissed = \"later\"\n")) ==
        "suite.toml:9:10: error: schedule.missed: 'later': use \"skip\" or \"run_once\"\n");
}

TEST_CASE("message: a schedule with no start", "[unit][validation][messages][schedule]") {
  CHECK(suite_errors(scheduled("missed = \"skip\"\n")) ==
        "suite.toml:6:1: error: schedule.cron: a schedule needs cron = [\"...\"] or random = [{ cron = \"...\", "
        "within = \"...\" }]\n");
}

// ---- the command line ----

TEST_CASE("message: two experiments of one run with the same name and nothing runs",
          "[integration][validation][messages]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "30"});
  const std::string body = "name = \"same\"\n[[targets]]\nname = \"victim\"\npid = " + std::to_string(victim.pid()) +
                           "\n" + kExperiment + "[[method]]\ntype = \"process.kill\"\ntarget = \"victim\"\n";
  const std::string first = dir.write("first.toml", body), second = dir.write("second.toml", body);
  auto r = test::run_rebound({"run", first, second, "--report-dir", dir.path() + "/r", "--state-dir",
                              dir.path() + "/state"});
  CHECK(r.exit_code == 4);
  CHECK(r.err.find(second + ":1:1: error: name: experiment 'same' is also defined in " + first +
                   "; give each experiment in one run its own name\n") != std::string::npos);
  CHECK(victim.alive());
  auto v = test::run_rebound({"validate", first, second});
  CHECK(v.exit_code == 4);
  CHECK(v.err == second + ":1:1: error: name: experiment 'same' is also defined in " + first +
                     "; give each experiment in one run its own name\n");
}

TEST_CASE("message: a schedule's windows given as a string", "[unit][validation][messages][schedule]") {
  CHECK(suite_errors(scheduled("cron = [\"0 9 * * *\"]\nrandom = \"0 9 * * *\"\n")) ==
        "suite.toml:9:10: error: schedule.random: expected an array, got string '0 9 * * *'\n");
}

TEST_CASE("message: a schedule window without its length", "[unit][validation][messages][schedule]") {
  CHECK(suite_errors(scheduled("random = [{ cron = \"0 9 * * *\" }]\n")) ==
        "suite.toml:8:11: error: schedule.random[0].within: missing required key (add within = <a duration such as "
        "\"5s\">)\n");
}
