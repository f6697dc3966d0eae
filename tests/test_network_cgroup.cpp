// How network faults scope themselves to a target's cgroup: cgroup targets with descendants, processes from
// several cgroups, steps stacked on one process in one run, and two rebounds sharing a process. Root only.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unistd.h>

#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;

namespace {

// The cgroup v2 path of a process, as a path under the mount.
std::string cgroup_of(pid_t pid) {
  auto text = test::read_text("/proc/" + std::to_string(pid) + "/cgroup");
  auto at = text.find("0::");
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at);
  return test::cgroup2_root() + text.substr(at + 3, end - at - 3);
}

// rebound's cgroups (rebound-PID-N) anywhere under `dir`.
std::vector<std::string> rebound_cgroups_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (it->is_directory(ec) && name.starts_with("rebound-") && !name.starts_with("rebound-test-"))
      out.push_back(it->path().string());
  }
  return out;
}

// A child cgroup of a test cgroup, emptied and removed first.
struct SubCgroup {
  std::string path;
  explicit SubCgroup(const std::string& parent, const std::string& name) : path(parent + "/" + name) {
    fs::create_directory(path);
  }
  ~SubCgroup() {
    for (int i = 0; i < 100; ++i) {
      std::ifstream procs(path + "/cgroup.procs");
      for (pid_t pid; procs >> pid;) std::ofstream(test::cgroup2_root() + "/cgroup.procs") << pid;
      if (rmdir(path.c_str()) == 0 || errno == ENOENT) return;
      usleep(20'000);
    }
  }
  void adopt(pid_t pid) const { std::ofstream(path + "/cgroup.procs") << pid << "\n"; }
};

// A shell in the client namespace that keeps opening new sockets (a socket's cgroup is fixed at its creation,
// so only new sockets show a fault): each round a UDP burst to `udp_to` and, if given, a TCP connect.
std::unique_ptr<test::Child> talker(const test::TestNet& net, const std::string& udp_to, const std::string& tcp_to = "",
                                    int tcp_port = 0) {
  std::string tool = test::bin("rebound-nettool");
  std::string round = tool + " udp-send " + udp_to + " 9000 3 64 1000 >/dev/null;";
  if (!tcp_to.empty()) round += " " + tool + " connect " + tcp_to + " " + std::to_string(tcp_port) + " >/dev/null;";
  return std::make_unique<test::Child>(net.in(net.client, {"/bin/sh", "-c", "while :; do " + round + " sleep 0.02; done"}));
}

struct Run {
  test::TempDir dir;
  std::string state = dir.path() + "/state";  // may name another run's, to share its ledger
  test::RunOutput out;
  nlohmann::json journal;
};

// Runs an experiment to its end with rebound; `body` is the targets and the method.
void run_experiment(Run& run, const std::string& name, const std::string& body) {
  auto file = run.dir.write(name + ".toml", "name = \"" + name + "\"\n" +
                                                "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                                "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n" + body);
  run.out = test::run_rebound({"run", file, "--report-dir", run.dir.path() + "/r", "--state-dir", run.state,
                               "--no-progress"}, 120'000);
  run.journal = test::read_json(run.dir.path() + "/r/" + name + "/journal.json");
}

std::string pid_target(const std::string& name, pid_t pid) {
  return "[[targets]]\nname = \"" + name + "\"\npid = " + std::to_string(pid) + "\n";
}

}  // namespace

TEST_CASE("a cgroup target includes the processes of the cgroups below it", "[root][network][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup slice;
  SubCgroup service(slice.path(), "service");
  test::Child top({"/bin/sleep", "120"});
  test::Child below({"/bin/sleep", "120"});
  slice.adopt(top.pid());
  service.adopt(below.pid());
  rebound::TargetSpec spec{
      .name = "batch", .kind = rebound::TargetKind::cgroup, .value = slice.path(), .max_targets = 10};
  auto matched = rebound::resolve_target(spec);
  REQUIRE(matched);
  std::vector<pid_t> pids;
  for (const auto& p : *matched) pids.push_back(p.pid);
  CHECK(pids == std::vector<pid_t>{std::min(top.pid(), below.pid()), std::max(top.pid(), below.pid())});

  SECTION("a slice with processes only in its children is not empty") {
    test::TestCgroup empty_slice;
    SubCgroup only(empty_slice.path(), "only");
    only.adopt(below.pid());
    rebound::TargetSpec s{
        .name = "slice", .kind = rebound::TargetKind::cgroup, .value = empty_slice.path(), .max_targets = 10};
    auto m = rebound::resolve_target(s);
    INFO((m ? "" : m.error().message));
    REQUIRE(m);
    REQUIRE(m->size() == 1);
    CHECK(m->front().pid == below.pid());
  }
}

TEST_CASE("processes from two cgroups each go back to their own cgroup after a passing run",
          "[root][network][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup rev_a, rev_b;
  // Two sleeps told apart from every other process by a duration unique to this test.
  std::string marker = "300." + std::to_string(getpid());
  test::Child a({"/bin/sleep", marker});
  test::Child b({"/bin/sleep", marker});
  rev_a.adopt(a.pid());
  rev_b.adopt(b.pid());
  Run run;
  run_experiment(run, "two-homes",
                 "[[targets]]\nname = \"sleepers\"\ncmdline = \"^/bin/sleep 300[.]" + std::to_string(getpid()) +
                     "$\"\nmax_targets = 2\n"
                     "[[method]]\nname = \"cut\"\ntype = \"network.loss\"\ntarget = \"sleepers\"\nprobability = 1.0\n"
                     "duration = \"1s\"\nallow_no_effect = true\n");  // sleeps send nothing: the cgroups are the test
  INFO(run.out.out << run.out.err);
  CHECK(run.out.exit_code == 0);
  CHECK(run.journal["steps"][0]["detail"]["cgroup"].get<std::string>().find("/rebound-") != std::string::npos);
  CHECK(cgroup_of(a.pid()) == rev_a.path());
  CHECK(cgroup_of(b.pid()) == rev_b.path());
}

TEST_CASE("two overlapping steps on one process: both act, and the process ends in its own cgroup",
          "[root][network][cgroup]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TestCgroup home;
  SECTION("network.partition 0-2 s and network.loss 1-3 s") {
    auto client = talker(net, net.server_ip);
    home.adopt(client->pid());
    Run run;
    run_experiment(run, "stacked-drops",
                   pid_target("client", client->pid()) +
                       "[[method]]\nname = \"cut\"\ntype = \"network.partition\"\ntarget = \"client\"\npeers = [\"" +
                       net.server_ip + "\"]\nduration = \"2s\"\n"
                       "[[method]]\nname = \"lossy\"\ntype = \"network.loss\"\ntarget = \"client\"\nprobability = 1.0\n"
                       "start = \"1s\"\nduration = \"2s\"\n");
    INFO(run.out.out << run.out.err << run.journal.dump(1));
    CHECK(run.out.exit_code == 0);
    CHECK(run.journal["steps"][0]["detail"]["packets_affected"].get<int>() > 0);
    CHECK(run.journal["steps"][1]["detail"]["packets_affected"].get<int>() > 0);
    CHECK(cgroup_of(client->pid()) == home.path());
    for (const auto& step : run.journal["steps"]) CHECK_FALSE(fs::exists(step["detail"]["cgroup"].get<std::string>()));
    CHECK(rebound_cgroups_under(home.path()).empty());
    auto recover = test::run_rebound({"recover", "--state-dir", run.state});
    CHECK(recover.exit_code == 0);
    CHECK(recover.out.find(" 0 failed") != std::string::npos);
  }
  SECTION("network.delay 0-3 s and network.partition 1-2 s") {
    test::TempDir d;
    test::Child server(net.tool(net.server, {"tcp-serve", "7311"}), d.path() + "/server");
    REQUIRE(test::file_contains_soon(d.path() + "/server", "ready", 5000));
    auto client = talker(net, net.server_ip2, net.server_ip, 7311);
    home.adopt(client->pid());
    Run run;
    run_experiment(run, "stacked-delay",
                   pid_target("client", client->pid()) +
                       "[[method]]\nname = \"slow\"\ntype = \"network.delay\"\ntarget = \"client\"\nlatency = \"20ms\"\n"
                       "ports = [7311]\nduration = \"3s\"\n"
                       "[[method]]\nname = \"cut\"\ntype = \"network.partition\"\ntarget = \"client\"\npeers = [\"" +
                       net.server_ip2 + "\"]\nstart = \"1s\"\nduration = \"1s\"\n");
    INFO(run.out.out << run.out.err << run.journal.dump(1));
    CHECK(run.out.exit_code == 0);
    CHECK(run.journal["steps"][0]["detail"]["connections"].get<int>() > 0);
    CHECK(run.journal["steps"][1]["detail"]["packets_affected"].get<int>() > 0);
    CHECK(cgroup_of(client->pid()) == home.path());
    CHECK(rebound_cgroups_under(home.path()).empty());
  }
}

namespace {

// The experiment file of a rebound that holds a network.loss on `pid` for `duration`.
std::string loss_on(const test::TempDir& dir, const std::string& name, pid_t pid, const std::string& duration) {
  return dir.write(name + ".toml", "name = \"" + name + "\"\n" + pid_target("victim", pid) +
                                       "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                       "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n"
                                       "[[method]]\nname = \"fault\"\ntype = \"network.loss\"\ntarget = \"victim\"\n"
                                       "probability = 1.0\nduration = \"" + duration + "\"\nallow_no_effect = true\n");
}

// A second rebound in the background, on the first one's state directory; returns once its step is applied.
std::unique_ptr<test::Child> start_second(const test::TempDir& dir, const std::string& file, const std::string& state) {
  std::string log = dir.path() + "/b.log";
  auto b = std::make_unique<test::Child>(std::vector<std::string>{test::bin("rebound"), "run", file, "--report-dir",
                                                                  dir.path() + "/rb", "--state-dir", state,
                                                                  "--no-progress"},
                                         log);
  INFO(test::read_text(log));
  REQUIRE(test::file_contains_soon(log, ") applied", 15'000));
  return b;
}

}  // namespace

TEST_CASE("two rebounds on one process: it keeps its true original cgroup, whoever ends first or dies",
          "[root][network][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup home;
  test::Child victim({"/bin/sleep", "120"});
  home.adopt(victim.pid());
  test::RunningFault a(pid_target("victim", victim.pid()), "type = \"network.loss\"\ntarget = \"victim\"\nprobability = 1.0");
  const std::string a_cgroup = cgroup_of(victim.pid());
  REQUIRE(a_cgroup != home.path());
  test::TempDir dir;
  auto recover_clean = [&] {
    auto r = test::run_rebound({"recover", "--state-dir", a.state});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(" 0 failed") != std::string::npos);
    auto again = test::run_rebound({"recover", "--state-dir", a.state});
    CHECK(again.out.find(" 0 failed") != std::string::npos);
  };

  SECTION("B ends first: the process is back in A's cgroup, then A's end brings it home") {
    Run b;
    b.state = a.state;
    run_experiment(b, "second", pid_target("victim", victim.pid()) +
                                    "[[method]]\nname = \"more\"\ntype = \"network.loss\"\ntarget = \"victim\"\n"
                                    "probability = 1.0\nduration = \"1s\"\nallow_no_effect = true\n");
    INFO(b.out.out << b.out.err);
    CHECK(b.out.exit_code == 0);
    auto b_cgroup = b.journal["steps"][0]["detail"]["cgroup"].get<std::string>();
    CHECK(b_cgroup.starts_with(a_cgroup + "/"));  // nested: A's fault kept acting during B's
    CHECK(cgroup_of(victim.pid()) == a_cgroup);   // A still holds it
    CHECK_FALSE(fs::exists(b_cgroup));
    CHECK(a.stop() == 3);
    CHECK(cgroup_of(victim.pid()) == home.path());
    CHECK_FALSE(fs::exists(a_cgroup));
    recover_clean();
  }
  SECTION("A ends first while B holds it: B's end brings it home and removes A's cgroup too") {
    auto b = start_second(dir, loss_on(dir, "second", victim.pid(), "3s"), a.state);
    const std::string b_cgroup = cgroup_of(victim.pid());
    CHECK(b_cgroup.starts_with(a_cgroup + "/"));
    CHECK(a.stop() == 3);
    CHECK(cgroup_of(victim.pid()) == b_cgroup);  // B's fault is untouched by A's end
    CHECK(b->wait(30'000) == 0);
    CHECK(cgroup_of(victim.pid()) == home.path());
    CHECK_FALSE(fs::exists(b_cgroup));
    CHECK_FALSE(fs::exists(a_cgroup));
    recover_clean();
  }
  SECTION("SIGKILL of A while B holds it; B ends, then recover") {
    auto b = start_second(dir, loss_on(dir, "second", victim.pid(), "3s"), a.state);
    CHECK(a.stop(SIGKILL) == -SIGKILL);
    CHECK(b->wait(30'000) == 0);
    CHECK(cgroup_of(victim.pid()) == home.path());
    recover_clean();
    CHECK_FALSE(fs::exists(a_cgroup));
    CHECK(a.records() == 0);
  }
  SECTION("SIGKILL of B while A holds it; A ends, then recover") {
    auto b = start_second(dir, loss_on(dir, "second", victim.pid(), "60s"), a.state);
    const std::string b_cgroup = cgroup_of(victim.pid());
    b->signal(SIGKILL);
    CHECK(b->wait(10'000) == -SIGKILL);
    CHECK(a.stop() == 3);
    CHECK(cgroup_of(victim.pid()) == home.path());
    recover_clean();
    CHECK_FALSE(fs::exists(b_cgroup));
    CHECK_FALSE(fs::exists(a_cgroup));
    CHECK(a.records() == 0);
  }
  SECTION("SIGKILL of both (and of their guardians): recover brings it home") {
    auto b = start_second(dir, loss_on(dir, "second", victim.pid(), "60s"), a.state);
    test::kill_guardian(b->pid());  // with the guardians gone, only `rebound recover` is left
    test::kill_guardian(a.rebound->pid());
    b->signal(SIGKILL);
    CHECK(b->wait(10'000) == -SIGKILL);
    CHECK(a.stop(SIGKILL) == -SIGKILL);
    CHECK(cgroup_of(victim.pid()) != home.path());
    recover_clean();
    CHECK(cgroup_of(victim.pid()) == home.path());
    CHECK_FALSE(fs::exists(a_cgroup));
    CHECK(a.records() == 0);
  }
}

TEST_CASE("recover refuses a record naming a cgroup rebound would not have created", "[root][network][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup someone_elses;
  test::Child bystander({"/bin/sleep", "120"});
  someone_elses.adopt(bystander.pid());
  test::TempDir dir;
  fs::create_directories(dir.path() + "/state");
  // A forged record: "empty" someone else's cgroup into the root and remove it.
  nlohmann::json record{{"experiment", "x"}, {"step", "s"}, {"type", "network.loss"},
                        {"owner", {{"pid", 999999}, {"start_time", 1}}},
                        {"undo", {{"scope", "cgroup"}, {"state_dir", dir.path() + "/state"},
                                  {"created_cgroup", someone_elses.path()}, {"original_cgroup", test::cgroup2_root()},
                                  {"created_cgroups", {someone_elses.path()}},
                                  {"moved", {{{"pid", bystander.pid()}, {"start_time", 1}, {"original", test::cgroup2_root()},
                                              {"cgroup", someone_elses.path()}}}}}}};
  dir.write("state/fault-999999-1-0.json", record.dump());
  auto r = test::run_rebound({"recover", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.out.find("refused") != std::string::npos);
  CHECK(cgroup_of(bystander.pid()) == someone_elses.path());
  CHECK(fs::exists(someone_elses.path()));
}
