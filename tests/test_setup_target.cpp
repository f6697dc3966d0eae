// Targets of kind setup (`setup = "NAME"`: the process a background [[setup]] step started, and its descendants),
// and what a target that matches nothing says: the nearest command lines or executables, and the full-path hint.
#include <catch2/catch.hpp>
#include <csignal>
#include <fmt/format.h>

#include "helpers.hpp"
#include "system/target_hints.hpp"
#include "system/targets.hpp"

using namespace rebound;
using test::only_error;

namespace {

const char* kProbe = R"(
[[probes]]
name = "ok"
type = "command"
argv = ["true"]
)";

// An experiment with one target `web` of kind setup and the given [[setup]] steps.
std::string with_setup_target(const std::string& name, const std::string& setup) {
  return fmt::format("name = \"t\"\n[[targets]]\nname = \"web\"\nsetup = \"{}\"\n{}{}", name, kProbe, setup);
}

std::vector<int> pids_of(const nlohmann::json& list) {
  std::vector<int> out;
  for (const auto& p : list) out.push_back(p["pid"].get<int>());
  return out;
}

std::string error_of(const TargetSpec& spec) {
  auto r = resolve_target(spec);
  return r ? std::string("(resolved)") : r.error().message;
}

}  // namespace

TEST_CASE("a setup target: process.stop acts on the server a background setup step started", "[integration]") {
  test::TempDir dir;
  // The command line users write: a cmdline "^python3 -m http.server" would not match it (it runs by full path).
  auto file = dir.write("web.toml", R"(
name = "stop-web"
[[targets]]
name = "web"
setup = "start-web"
[[probes]]
name = "health"
type = "http"
url = "http://127.0.0.1:18573/"
interval = "50ms"
timeout = "300ms"
[steady_state]
window = "500ms"
[[setup]]
name = "start-web"
argv = ["python3", "-m", "http.server", "18573", "--bind", "127.0.0.1"]
cwd = "${experiment_dir}"
background = true
ready_probe = "health"
ready_timeout = "10s"
[[method]]
name = "freeze"
type = "process.stop"
target = "web"
duration = "1s"
[slo]
recover_within = "3s"
stable_for = "500ms"
)");
  auto dry = test::run_rebound({"run", file, "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.out.find("web            setup \"start-web\" -> the process setup step 'start-web' starts (and its "
                     "descendants)") != std::string::npos);

  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);  // the fault had an effect (the probe failed while stopped) and the server recovered
  auto j = test::read_json(dir.path() + "/r/stop-web/journal.json");
  int setup_pid = -1;
  for (const auto& c : j["commands"])
    if (c["name"] == "start-web") setup_pid = c["pid"].get<int>();
  REQUIRE(setup_pid > 0);
  REQUIRE(j["steps"].size() == 1);
  CHECK(pids_of(j["steps"][0]["detail"]["stopped"]) == std::vector<int>{setup_pid});
  CHECK(j["targets"]["web"][0]["pid"].get<int>() == setup_pid);
  CHECK(j["experiment"]["targets"][0]["kind"] == "setup");
  CHECK(j["experiment"]["targets"][0]["setup"] == "start-web");
  CHECK(j["experiment"]["targets"][0]["setup_pid"].get<int>() == setup_pid);
}

TEST_CASE("a setup target matches the descendants of the setup step's process", "[integration]") {
  test::TempDir dir;
  auto file = dir.write("tree.toml", R"(
name = "kill-tree"
[[targets]]
name = "tree"
setup = "spawner"
max_targets = 2
[[probes]]
name = "ok"
type = "command"
argv = ["true"]
interval = "50ms"
[steady_state]
window = "200ms"
[[setup]]
name = "spawner"
argv = ["sh", "-c", "sleep 1000 & wait"]
background = true
[[method]]
name = "kill"
type = "process.kill"
target = "tree"
start = "300ms"
[slo]
recover_within = "1s"
stable_for = "200ms"
)");
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/r/kill-tree/journal.json");
  REQUIRE(j["steps"].size() == 1);
  std::vector<std::string> comms;
  for (const auto& p : j["steps"][0]["detail"]["signalled"]) comms.push_back(p["comm"].get<std::string>());
  std::sort(comms.begin(), comms.end());
  CHECK(comms == std::vector<std::string>{"sh", "sleep"});
}

TEST_CASE("a setup target follows the tree and never matches a reused pid", "[unit]") {
  test::Child shell({"/bin/sh", "-c", "sleep 1000 & wait"});
  TargetSpec spec{.name = "tree", .kind = TargetKind::setup, .value = "spawner", .max_targets = 5};
  CHECK(error_of(spec) == "target 'tree': setup step 'spawner' has not started its process yet (setup targets "
                          "resolve once it runs)");
  spec.setup_process = std::make_shared<SetupProcessSlot>();
  auto start = process_start_time(shell.pid());
  REQUIRE(start);
  spec.setup_process->set({shell.pid(), *start});
  REQUIRE(test::wait_for([&] { return match_target(spec)->size() == 2; }, 3000));
  auto both = *match_target(spec);
  CHECK(both[0].pid == shell.pid());
  CHECK(both[1].comm == "sleep");

  // The same pid with another start time is another process: nothing matches.
  TargetSpec reused = spec;
  reused.setup_process = std::make_shared<SetupProcessSlot>();
  reused.setup_process->set({shell.pid(), *start + 1});
  CHECK(match_target(reused)->empty());

  // The shell gone, what it left in its process group is still the step's.
  ::kill(shell.pid(), SIGKILL);
  shell.wait(3000);
  REQUIRE(test::wait_for([&] { return match_target(spec)->size() == 1; }, 3000));
  CHECK(match_target(spec)->front().comm == "sleep");
  ::kill(match_target(spec)->front().pid, SIGKILL);
  REQUIRE(test::wait_for([&] { return match_target(spec)->empty(); }, 3000));
  CHECK(error_of(spec) == fmt::format("target 'tree' (setup = \"spawner\") matches no running process (setup step "
                                      "'spawner' started pid {}, which has exited and left no process behind)",
                                      shell.pid()));
}

TEST_CASE("validation: a setup target names a setup step that does not exist", "[unit][validation]") {
  const std::string steps = "[[setup]]\nname = \"start-web\"\nargv = [\"true\"]\nbackground = true\n"
                            "[[setup]]\nname = \"start-db\"\nargv = [\"true\"]\nbackground = true\n";
  CHECK(only_error(with_setup_target("start-wbe", steps)) ==
        "exp.toml:4:9: error: targets[0].setup: no background [[setup]] step named 'start-wbe'; did you mean "
        "'start-web'?");
  CHECK(only_error(with_setup_target("web", steps)) ==
        "exp.toml:4:9: error: targets[0].setup: no background [[setup]] step named 'web' (background setup steps: "
        "start-web, start-db)");
  CHECK(only_error(with_setup_target("web", "")) ==
        "exp.toml:4:9: error: targets[0].setup: no background [[setup]] step named 'web'; add a [[setup]] step with "
        "that name and background = true, which starts the process");
}

TEST_CASE("validation: a setup target names a setup step that runs in the foreground", "[unit][validation]") {
  CHECK(only_error(with_setup_target("prepare", "[[setup]]\nname = \"prepare\"\nargv = [\"true\"]\n")) ==
        "exp.toml:4:9: error: targets[0].setup: setup step 'prepare' runs in the foreground, so its process has "
        "ended before the method starts; add background = true to it (and a ready_probe), or find the process by "
        "exe or cmdline");
}

TEST_CASE("validation: an unknown target name lists the targets when none is close", "[unit][validation]") {
  const std::string targets = "name = \"t\"\n[[targets]]\nname = \"webs\"\npid = 1\n[[targets]]\nname = \"db\"\n"
                              "pid = 1\n";
  CHECK(only_error(targets + kProbe + "[[method]]\ntype = \"process.kill\"\ntarget = \"web\"\n") ==
        "exp.toml:15:10: error: method[0].target: no target named 'web'; did you mean 'webs'?");
  CHECK(only_error(targets + kProbe + "[[method]]\ntype = \"process.kill\"\ntarget = \"frontend\"\n") ==
        "exp.toml:15:10: error: method[0].target: no target named 'frontend' (targets: webs, db)");
  const std::string no_targets = std::string("name = \"t\"\n") + kProbe;
  CHECK(only_error(no_targets + "[[method]]\ntype = \"process.kill\"\ntarget = \"web\"\n") ==
        "exp.toml:9:10: error: method[0].target: no target named 'web'; add a [[targets]] entry with name = \"web\" "
        "and a way to find its processes (exe, cmdline, pidfile, pid, cgroup or setup)");
}

TEST_CASE("a cmdline that matches nothing shows the closest command lines and the full-path hint", "[unit]") {
  // Started by full path, as rebound starts setup commands; the pattern is written as users type commands.
  test::Child sleeper({"/bin/sleep", "31.2718"});
  TargetSpec spec{.name = "web", .kind = TargetKind::cmdline, .value = "^sleep 31\\.2718$", .max_targets = 1};
  std::string message;
  REQUIRE(test::wait_for([&] { return (message = error_of(spec)).find("hint") != std::string::npos; }, 3000));
  CHECK(message.starts_with("target 'web' (cmdline = \"^sleep 31\\.2718$\") matches no running process; closest "
                            "command lines: "));
  CHECK(message.find("\"/bin/sleep 31.2718\"") < message.find("; hint"));
  CHECK(message.find(fmt::format("; hint: pid {} (\"/bin/sleep 31.2718\") would match if its first word were "
                                 "\"sleep\": cmdline matches the whole /proc/PID/cmdline, and rebound runs setup "
                                 "commands by their full path; use setup = \"NAME\" for the process a background "
                                 "[[setup]] step started, or a regex that allows a path (e.g. cmdline = "
                                 "'^(\\S*/)?sleep 31\\.2718$')",
                                 sleeper.pid())) != std::string::npos);
}

TEST_CASE("a cmdline hint lists the three nearest command lines and cuts long ones", "[unit]") {
  TargetSpec spec{.name = "api", .kind = TargetKind::cmdline, .value = "^api-server --port 80$", .max_targets = 1};
  std::vector<SeenProcess> seen;
  const std::vector<std::string> lines{"/usr/sbin/sshd -D", "api-server --port 8080", "api-server --port 81", "bash",
                                       "java -cp " + std::string(300, 'x')};
  for (const auto& line : lines)
    seen.push_back({ProcessInfo{.pid = 10, .start_time = 1, .comm = "c", .cmdline = line}, ""});
  CHECK(no_match_hint(spec, seen) ==
        "; closest command lines: \"api-server --port 8080\", \"api-server --port 81\"");
  seen.push_back({ProcessInfo{.pid = 11, .start_time = 1, .comm = "c", .cmdline = "java -cp " + std::string(300, 'y')},
                  ""});
  spec.value = "^java -cp " + std::string(150, 'x') + "z";
  CHECK(no_match_hint(spec, seen).find(fmt::format("\"java -cp {}...\"", std::string(71, 'x'))) != std::string::npos);
}

TEST_CASE("an exe that matches nothing shows the executable a symlink resolves to", "[unit]") {
  TargetSpec spec{.name = "py", .kind = TargetKind::exe, .value = "python3", .max_targets = 1};
  std::vector<SeenProcess> seen{
      {ProcessInfo{.pid = 42, .start_time = 1, .comm = "python3", .cmdline = "/usr/bin/python3 -m http.server"},
       "python3.11"},
      {ProcessInfo{.pid = 43, .start_time = 1, .comm = "bash", .cmdline = "bash"}, "bash"}};
  CHECK(no_match_hint(spec, seen) ==
        "; closest executables: \"python3.11\", \"bash\"; hint: pid 42 (\"/usr/bin/python3 -m http.server\") was "
        "started as \"python3\" but its executable is \"python3.11\": exe is the name of the file /proc/PID/exe "
        "points to, symbolic links resolved; use exe = \"python3.11\", or a cmdline");
}
