// A suite's shared targets and probes, reused by name by the experiments it lists.
#include <catch2/catch.hpp>

#include "gameday/suite.hpp"
#include "helpers.hpp"

using namespace rebound;

TEST_CASE("experiments in a suite use its shared targets and probes unless they define their own", "[unit][suite]") {
  test::TempDir dir;
  dir.write("uses-shared.toml", "name = \"uses-shared\"\n[[method]]\ntype = \"process.kill\"\ntarget = \"api\"\n");
  dir.write("own-probe.toml", "name = \"own-probe\"\n[[probes]]\nname = \"health\"\ntype = \"tcp\"\nhost = "
                              "\"127.0.0.1\"\nport = 9\n");
  auto suite = dir.write("s.toml", R"(name = "s"
[[targets]]
name = "api"
exe = "api-server"

[[probes]]
name = "health"
type = "http"
url = "http://127.0.0.1:8080/health"

[[groups]]
[[groups.experiments]]
file = "uses-shared.toml"
[[groups.experiments]]
file = "own-probe.toml"
)");
  auto loaded = load_suite(suite, LoadOptions("/opt/rebound"));
  INFO(loaded.format_all());
  REQUIRE(loaded.ok());
  const auto& entries = loaded.suite->groups[0].entries;
  const Experiment& shared = entries[0].experiment;
  REQUIRE(shared.find_target("api"));
  CHECK(shared.find_target("api")->value == "api-server");
  REQUIRE(shared.find_probe("health"));
  CHECK(shared.find_probe("health")->type == "http");
  CHECK(shared.steady_state.probes == std::vector<std::string>{"health"});
  const Experiment& own = entries[1].experiment;
  CHECK(own.find_probe("health")->type == "tcp");  // its own definition wins
  CHECK(own.probes.size() == 1);
}

TEST_CASE("an error in a shared definition names the suite file", "[unit][suite]") {
  test::TempDir dir;
  dir.write("e.toml", "name = \"e\"\n");
  auto suite = dir.write("s.toml", "name = \"s\"\n[[probes]]\nname = \"health\"\ntype = \"htp\"\n[[groups]]\n"
                                   "[[groups.experiments]]\nfile = \"e.toml\"\n");
  auto loaded = load_suite(suite, LoadOptions("/opt/rebound"));
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.format_all().find(suite + ":4:8: error: probes[0].type: unknown probe type 'htp'; did you mean 'http'?") !=
        std::string::npos);
}
