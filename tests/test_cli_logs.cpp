// Log lines name their experiment: in a parallel suite group, two experiments' step events interleave on stderr
// and must still be told apart (issue 10 item 7).
#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "helpers.hpp"

namespace {

// An experiment that freezes its own sleeping process for a moment: a lasting fault, so it is applied and reverted.
std::string freeze_experiment(const std::string& name, pid_t pid) {
  return "name = \"" + name + "\"\n[[targets]]\nname = \"victim\"\npid = " + std::to_string(pid) +
         "\n[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n"
         "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\n"
         "target = \"victim\"\nduration = \"500ms\"\n";
}

}  // namespace

TEST_CASE("step log lines in a parallel suite group name their experiment", "[integration][suite][cli]") {
  test::TempDir dir;
  test::Child sleeper_a({"/bin/sleep", "120"}), sleeper_b({"/bin/sleep", "120"});
  auto a = dir.write("a.toml", freeze_experiment("logs-a", sleeper_a.pid()));
  auto b = dir.write("b.toml", freeze_experiment("logs-b", sleeper_b.pid()));
  // Both experiments call their step "freeze": only the experiment's name tells their lines apart.
  auto suite = dir.write("s.toml", "name = \"logs\"\n[[groups]]\nmode = \"parallel\"\n[[groups.experiments]]\nfile = \"" +
                                       a + "\"\n[[groups.experiments]]\nfile = \"" + b + "\"\n");
  auto r = test::run_rebound({"gameday", suite, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
                              "--no-history", "--no-progress"},
                             60'000);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  std::map<std::string, int> applied, reverted;
  std::istringstream lines(r.err);
  int step_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("step freeze") == std::string::npos) continue;
    ++step_lines;
    INFO(line);
    const bool named_a = line.find("logs-a: step freeze") != std::string::npos;
    const bool named_b = line.find("logs-b: step freeze") != std::string::npos;
    CHECK(named_a != named_b);  // exactly one experiment named
    const std::string who = named_a ? "logs-a" : "logs-b";
    if (line.find("applied") != std::string::npos) ++applied[who];
    if (line.find("reverted") != std::string::npos) ++reverted[who];
  }
  CHECK(step_lines == 4);
  CHECK(applied["logs-a"] == 1);
  CHECK(applied["logs-b"] == 1);
  CHECK(reverted["logs-a"] == 1);
  CHECK(reverted["logs-b"] == 1);
}
