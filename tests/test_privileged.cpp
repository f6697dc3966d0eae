// Tests that need root. In CI they run as root and fail rather than skip (see test::privileged()).
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTrueProbe =
    "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n";

}  // namespace

TEST_CASE("a cgroup target kills every process in the cgroup and nothing else", "[root][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup cgroup;
  test::Child inside_a({"/bin/sleep", "30"});
  test::Child inside_b({"/bin/sleep", "30"});
  test::Child outside({"/bin/sleep", "30"});
  cgroup.adopt(inside_a.pid());
  cgroup.adopt(inside_b.pid());
  test::TempDir dir;
  auto file = dir.write("cg.toml", "name = \"cg\"\n[[targets]]\nname = \"group\"\ncgroup = \"" + cgroup.path() +
                                       "\"\nmax_targets = 2\n" + kTrueProbe +
                                       "[steady_state]\nwindow = \"200ms\"\n[[method]]\ntype = \"process.kill\"\ntarget = "
                                       "\"group\"\n");
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(inside_a.wait(2000) == -SIGKILL);
  CHECK(inside_b.wait(2000) == -SIGKILL);
  CHECK(outside.alive());
  auto j = test::read_json(dir.path() + "/r/cg/journal.json");
  CHECK(j["steps"][0]["detail"]["signalled"].size() == 2);
}

TEST_CASE("process.stop freezes and resumes a process owned by another user", "[root][signals]") {
  if (!test::privileged()) return;
  // setpriv (util-linux) drops to nobody: only root may signal it.
  test::Child other({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sleep", "30"});
  REQUIRE(test::wait_for([&] {
    auto p = rebound::read_process(other.pid());
    return p && p->comm == "sleep";
  }, 3000));
  test::TempDir dir;
  auto file = dir.write("st.toml", "name = \"st\"\n[[targets]]\nname = \"nobody\"\npid = " + std::to_string(other.pid()) +
                                       "\n" + kTrueProbe +
                                       "[steady_state]\nwindow = \"200ms\"\n[[method]]\ntype = \"process.stop\"\ntarget "
                                       "= \"nobody\"\nduration = \"1s\"\n");
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", dir.path() + "/r", "--state-dir",
                       dir.path() + "/s"});
  CHECK(test::wait_for([&] { return rebound::process_state(other.pid()) == 'T'; }, 5000));
  CHECK(rebound.wait(20'000) == 0);
  CHECK(rebound::process_state(other.pid()) != 'T');
  CHECK(other.alive());
}
