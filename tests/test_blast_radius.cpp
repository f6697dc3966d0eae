// Blast radius (issue 16): a target selects `count` or `percent` of its matching processes, at random (a `seed`
// repeats a draw; the draw is in the journal) or lowest pids first; a percent that selects none is an error before
// anything runs; --dry-run prints what every step's target resolves to.
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <unistd.h>

#include "system/targets.hpp"
#include "helpers.hpp"

using namespace rebound;
namespace fs = std::filesystem;

namespace {

// Four copies of sleep under a name no other process has, for a target by exe.
struct Fleet {
  test::TempDir dir;
  std::string name = "fleet-" + std::to_string(getpid());
  std::vector<std::unique_ptr<test::Child>> children;
  Fleet(size_t n = 4) {
    const std::string path = dir.path() + "/" + name;
    fs::copy_file("/bin/sleep", path);
    fs::permissions(path, fs::perms::owner_all);
    for (size_t i = 0; i < n; ++i) children.push_back(std::make_unique<test::Child>(std::vector<std::string>{path, "60"}));
    REQUIRE(test::wait_for([&] { return match_target(spec())->size() == n; }, 3000));
  }
  TargetSpec spec() const {
    TargetSpec t{.name = "fleet", .kind = TargetKind::exe, .value = name, .max_targets = 1};
    return t;
  }
  std::string toml_target(const std::string& extra) const {
    return "[[targets]]\nname = \"fleet\"\nexe = \"" + name + "\"\n" + extra;
  }
};

std::vector<ProcessInfo> fake(size_t n) {
  std::vector<ProcessInfo> out;
  for (size_t i = 0; i < n; ++i) out.push_back({static_cast<pid_t>(1000 + i), 1, "x", "x"});
  return out;
}

std::vector<pid_t> pids(const std::vector<ProcessInfo>& ps) {
  std::vector<pid_t> out;
  for (const auto& p : ps) out.push_back(p.pid);
  return out;
}

std::string experiment(const std::string& targets, const std::string& method) {
  return "name = \"radius\"\n" + targets +
         "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n"
         "[steady_state]\nwindow = \"200ms\"\n[slo]\nobserve_for = \"1s\"\n" + method;
}

const std::string kMessageBase = "name = \"t\"\n[[targets]]\nname = \"svc\"\nexe = \"nginx\"\n";
const std::string kProbe = "[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n";

}  // namespace

TEST_CASE("blast radius: the same seed draws the same processes, another seed others, lowest_pids the first",
          "[unit][targets][blast]") {
  auto all = fake(40);
  CHECK(pids(draw_processes(all, 5, TargetPick::random, 42)) == pids(draw_processes(all, 5, TargetPick::random, 42)));
  CHECK(pids(draw_processes(all, 5, TargetPick::random, 42)) != pids(draw_processes(all, 5, TargetPick::random, 43)));
  auto drawn = pids(draw_processes(all, 5, TargetPick::random, 7));
  CHECK(std::set<pid_t>(drawn.begin(), drawn.end()).size() == 5);  // five different processes
  CHECK(std::is_sorted(drawn.begin(), drawn.end()));
  CHECK(pids(draw_processes(all, 3, TargetPick::lowest_pids, 7)) == std::vector<pid_t>{1000, 1001, 1002});
  // Over many seeds every process gets drawn: it is not the lowest pids in disguise.
  std::set<pid_t> seen;
  for (uint64_t seed = 0; seed < 200; ++seed)
    for (auto p : draw_processes(all, 2, TargetPick::random, seed)) seen.insert(p.pid);
  CHECK(seen.size() == all.size());
}

TEST_CASE("blast radius: count and percent select that many matching processes, with the draw described",
          "[unit][targets][blast]") {
  Fleet fleet;
  auto t = fleet.spec();
  t.count = 3;
  t.seed = 9;
  TargetDraw draw;
  auto r = resolve_target(t, &draw);
  REQUIRE(r);
  CHECK(r->size() == 3);  // max_targets = 1 (the default) bounds a plain match, not a drawn one
  CHECK(draw.drawn);
  CHECK(draw.matched == 4);
  CHECK(draw.selected == pids(*r));
  CHECK(draw.how == "3 of 4 at random (seed 9)");
  CHECK(pids(*resolve_target(t)) == pids(*r));  // the same seed: the same draw at every step

  auto p = fleet.spec();
  p.percent = 50;
  CHECK(resolve_target(p)->size() == 2);
  p.percent = 25;
  CHECK(resolve_target(p)->size() == 1);
  SECTION("a percent that selects no process is an error") {
    p.percent = 20;  // 20% of 4 is 0.8: rounded down, none
    auto none = resolve_target(p);
    REQUIRE_FALSE(none);
    CHECK(none.error().message == "target 'fleet' (exe = \"" + fleet.name +
                                      "\"): percent = 20 of the 4 matching process(es) selects none (rounded down); "
                                      "raise percent, or use count = 1");
  }
  SECTION("an explicit max_targets bounds the selection") {
    t.max_targets = 2;
    t.max_targets_set = true;
    auto over = resolve_target(t);
    REQUIRE_FALSE(over);
    CHECK(over.error().message ==
          "target 'fleet' selects 3 processes but max_targets = 2; lower count or percent, or raise max_targets");
  }
}

TEST_CASE("blast radius: a run stops the drawn processes only and records the draw in the journal",
          "[integration][blast]") {
  Fleet fleet;
  test::TempDir dir;
  auto file = dir.write("x.toml", experiment(fleet.toml_target("count = 2\nseed = 1234\n"),
                                             "[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\n"
                                             "target = \"fleet\"\nduration = \"300ms\"\n"));
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
                              "--no-progress"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/r/radius/journal.json");
  auto draw = j["steps"][0]["detail"]["target_draw"];
  INFO(j["steps"][0].dump());
  CHECK(draw["matched"] == 4);
  CHECK(draw["how"] == "2 of 4 at random (seed 1234)");
  auto t = fleet.spec();
  t.count = 2;
  t.seed = 1234;
  CHECK(draw["selected"].get<std::vector<pid_t>>() == pids(*resolve_target(t)));  // repeatable from the journal
  std::vector<pid_t> stopped;
  for (const auto& s : j["steps"][0]["detail"]["stopped"]) stopped.push_back(s["pid"].get<pid_t>());
  CHECK(stopped == draw["selected"].get<std::vector<pid_t>>());
}

TEST_CASE("blast radius: a percent that rounds to no process fails before anything runs", "[integration][blast]") {
  Fleet fleet;
  test::TempDir dir;
  auto file = dir.write("x.toml", experiment(fleet.toml_target("percent = 10\n"),
                                             "[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\n"
                                             "target = \"fleet\"\nduration = \"300ms\"\n"));
  auto dry = test::run_rebound({"run", "--dry-run", file});
  CHECK(dry.exit_code == 4);
  CHECK(dry.out.find("percent = 10 of the 4 matching process(es) selects none (rounded down)") != std::string::npos);
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
                              "--no-progress"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  auto j = test::read_json(dir.path() + "/r/radius/journal.json");
  CHECK(j["reasons"].dump().find("selects none (rounded down)") != std::string::npos);
  CHECK(j["steps"].empty());  // no step started
  for (const auto& c : fleet.children) CHECK(process_state(c->pid()) != 'T');
}

TEST_CASE("blast radius: --dry-run prints the resolved targets of every step", "[integration][blast]") {
  Fleet fleet;
  test::TempDir dir;
  auto file = dir.write("x.toml", experiment(fleet.toml_target("percent = 50\nseed = 5\n"),
                                             "[[method]]\nname = \"one\"\ntype = \"process.stop\"\n"
                                             "target = \"fleet\"\nduration = \"300ms\"\n[[method]]\nname = \"two\"\n"
                                             "type = \"process.stop\"\ntarget = \"fleet\"\nstart = \"1s\"\n"
                                             "duration = \"300ms\"\n"));
  auto r = test::run_rebound({"run", "--dry-run", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto t = fleet.spec();
  t.percent = 50;
  t.seed = 5;
  auto chosen = *resolve_target(t);
  const std::string line = "target fleet -> pid " + std::to_string(chosen[0].pid) + " (" + chosen[0].comm.substr(0, 15) +
                           "), pid " + std::to_string(chosen[1].pid);
  size_t first = r.out.find(line);
  CHECK(first != std::string::npos);
  CHECK(r.out.find(line, first + 1) != std::string::npos);  // once per step
  CHECK(r.out.find("(2 of 4 at random (seed 5))") != std::string::npos);
  for (const auto& c : fleet.children) CHECK(process_state(c->pid()) != 'T');
}

TEST_CASE("message: target count below 1", "[unit][validation][messages][blast]") {
  CHECK(test::only_error(kMessageBase + "count = 0\n" + kProbe) ==
        "exp.toml:5:9: error: targets[0].count: count must be at least 1 (the number of matching processes to select)");
}

TEST_CASE("message: target percent out of range", "[unit][validation][messages][blast]") {
  CHECK(test::only_error(kMessageBase + "percent = 0\n" + kProbe) ==
        "exp.toml:5:11: error: targets[0].percent: percent must be more than 0 and at most 100");
  CHECK(test::only_error(kMessageBase + "percent = 120.5\n" + kProbe) ==
        "exp.toml:5:11: error: targets[0].percent: percent must be more than 0 and at most 100");
}

TEST_CASE("message: target count and percent together", "[unit][validation][messages][blast]") {
  CHECK(test::only_error(kMessageBase + "count = 2\npercent = 10\n" + kProbe) ==
        "exp.toml:6:11: error: targets[0].percent: a target takes count or percent, not both");
}

TEST_CASE("message: target pick unknown, or without count or percent", "[unit][validation][messages][blast]") {
  CHECK(test::only_error(kMessageBase + "count = 2\npick = \"newest\"\n" + kProbe) ==
        "exp.toml:6:8: error: targets[0].pick: pick must be \"random\" or \"lowest_pids\"");
  CHECK(test::only_error(kMessageBase + "pick = \"random\"\n" + kProbe) ==
        "exp.toml:5:8: error: targets[0].pick: pick chooses among the matching processes: it needs count or percent");
}

TEST_CASE("message: target seed negative, or without count or percent", "[unit][validation][messages][blast]") {
  CHECK(test::only_error(kMessageBase + "count = 2\nseed = -1\n" + kProbe) ==
        "exp.toml:6:8: error: targets[0].seed: seed must be 0 or more");
  CHECK(test::only_error(kMessageBase + "seed = 3\n" + kProbe) ==
        "exp.toml:5:8: error: targets[0].seed: seed repeats a random draw: it needs count or percent");
}
