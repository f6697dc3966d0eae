// Faults that follow their target (issue 16): a lasting fault on an exe, cmdline or pidfile target extends itself
// to the processes that appear while it lasts (a supervisor's restart), records each, and undoes them with the
// rest, also after a SIGKILL of rebound; follow = false leaves them alone; the keys' validation messages.
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "system/targets.hpp"
#include "helpers.hpp"

using namespace rebound;
namespace fs = std::filesystem;

namespace {

// Copies of sleep under a name no other process has, for an exe target.
struct Sleepers {
  test::TempDir dir;
  std::string name = "follow-" + std::to_string(getpid());
  std::string path = dir.path() + "/" + name;
  Sleepers() {
    fs::copy_file("/bin/sleep", path);
    fs::permissions(path, fs::perms::owner_all);
  }
  std::unique_ptr<test::Child> start() const {
    auto child = std::make_unique<test::Child>(std::vector<std::string>{path, "120"});
    REQUIRE(test::wait_for([&] { return read_process(child->pid())->comm == name.substr(0, 15); }, 3000));
    return child;
  }
  std::string target(const std::string& extra = "") const {
    return "[[targets]]\nname = \"sleepers\"\nexe = \"" + name + "\"\n" + extra;
  }
};

bool stopped(pid_t pid) {
  char s = process_state(pid);
  return s == 'T' || s == 't';
}
bool running(pid_t pid) {
  char s = process_state(pid);
  return s == 'S' || s == 'R';
}

// Milliseconds since the process started (its start time in /proc is in clock ticks since boot).
double age_ms(pid_t pid) {
  auto info = read_process(pid);
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  return now.tv_sec * 1000.0 + now.tv_nsec / 1e6 - info->start_time * 1000.0 / sysconf(_SC_CLK_TCK);
}

}  // namespace

TEST_CASE("follow: process.stop freezes a matching process that appears during the fault, and continues it at revert",
          "[integration][follow]") {
  Sleepers s;
  auto first = s.start();
  test::RunningFault fault(s.target("max_targets = 4\n"),
                           "type = \"process.stop\"\ntarget = \"sleepers\"\nfollow_interval = \"50ms\"");
  REQUIRE(test::wait_for([&] { return stopped(first->pid()); }, 3000));
  auto second = s.start();
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(test::wait_for([&] { return stopped(second->pid()); }, 3000));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  WARN("the new process was frozen " << ms << " ms after it started (follow_interval 50ms)");
  fault.stop();
  CHECK(test::wait_for([&] { return running(second->pid()); }, 3000));
  CHECK(running(first->pid()));
  auto step = fault.journal()["steps"][0];
  INFO(step.dump());
  CHECK(step["detail"]["followed_processes"] == 1);
  CHECK(step["detail"]["followed"][0]["pid"] == second->pid());
  CHECK(step["detail"]["resumed"].size() == 2);
  CHECK(test::read_text(fault.reports + "/net/summary.md").find("followed\\_processes 1") != std::string::npos);
  CHECK(test::read_text(fault.log).find("followed target sleepers to pid " + std::to_string(second->pid())) !=
        std::string::npos);
}

TEST_CASE("follow: without the proc connector (rebound in a network namespace of its own) polling finds the new process",
          "[root][follow]") {
  if (!test::privileged()) return;
  Sleepers s;
  auto first = s.start();
  // The kernel's proc connector only speaks to the first network namespace: here rebound polls every 200 ms.
  test::RunningFault fault(s.target("max_targets = 4\n"), "type = \"process.stop\"\ntarget = \"sleepers\"", "",
                           {"/usr/bin/unshare", "-n"});
  REQUIRE(test::wait_for([&] { return stopped(first->pid()); }, 3000));
  CHECK(test::read_text(fault.log).find("follows target sleepers: every 200ms\n") != std::string::npos);
  auto second = s.start();
  CHECK(test::wait_for([&] { return stopped(second->pid()); }, 3000));
  WARN("polling: the new process was frozen " << age_ms(second->pid()) << " ms after it started (follow_interval 200ms)");
  CHECK(age_ms(second->pid()) < 1000);  // 200 ms and a look at /proc; generous on a loaded machine
  fault.stop();
  CHECK(test::wait_for([&] { return running(second->pid()); }, 3000));
}

TEST_CASE("follow: follow = false leaves a new matching process alone", "[integration][follow]") {
  Sleepers s;
  auto first = s.start();
  test::RunningFault fault(s.target("max_targets = 4\n"),
                           "type = \"process.stop\"\ntarget = \"sleepers\"\nfollow = false");
  REQUIRE(test::wait_for([&] { return stopped(first->pid()); }, 3000));
  auto second = s.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // four default follow intervals
  CHECK(running(second->pid()));
  CHECK(stopped(first->pid()));
  fault.stop();
  CHECK(fault.journal()["steps"][0]["detail"].count("followed_processes") == 0);
}

TEST_CASE("follow: a new process beyond the target's max_targets is not followed", "[integration][follow]") {
  Sleepers s;
  auto first = s.start();
  test::RunningFault fault(s.target(), "type = \"process.stop\"\ntarget = \"sleepers\"\nfollow_interval = \"50ms\"");
  REQUIRE(test::wait_for([&] { return stopped(first->pid()); }, 3000));
  auto second = s.start();  // max_targets = 1, and the first is still there
  CHECK(test::wait_for([&] { return test::read_text(fault.log).find("not followed") != std::string::npos; }, 3000));
  CHECK(running(second->pid()));
  fault.stop();
  CHECK(test::read_text(fault.log).find("new pid " + std::to_string(second->pid()) + " of target sleepers not followed") !=
        std::string::npos);
}

TEST_CASE("follow: after a SIGKILL of rebound and its guardian, rebound recover continues the followed process too",
          "[integration][follow]") {
  Sleepers s;
  auto first = s.start();
  test::RunningFault fault(s.target("max_targets = 4\n"),
                           "type = \"process.stop\"\ntarget = \"sleepers\"\nfollow_interval = \"50ms\"");
  REQUIRE(test::wait_for([&] { return stopped(first->pid()); }, 3000));
  auto second = s.start();
  REQUIRE(test::wait_for([&] { return stopped(second->pid()); }, 3000));
  test::kill_guardian(fault.rebound->pid());
  fault.stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(stopped(first->pid()));
  CHECK(stopped(second->pid()));  // nothing is left to continue it but the record
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(std::to_string(second->pid())) != std::string::npos);
  CHECK(test::wait_for([&] { return running(second->pid()) && running(first->pid()); }, 3000));
  CHECK(fault.records() == 0);
}

namespace {

// The lines of a file.
std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// True when the last `n` tries in the log all failed.
bool last_failed(const std::string& log, size_t n) {
  auto lines = lines_of(log);
  if (lines.size() < n) return false;
  for (size_t i = lines.size() - n; i < lines.size(); ++i)
    if (lines[i] == "OK") return false;
  return true;
}

}  // namespace

TEST_CASE("follow: a supervised service restarted during a network.partition of it is partitioned again within 300 ms",
          "[root][network][follow]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir d;
  test::Child server(net.tool(net.server, {"tcp-serve", "7311"}), d.path() + "/server");
  REQUIRE(test::file_contains_soon(d.path() + "/server", "ready", 5000));
  // The service: a loop in the client namespace that connects to the server every 50 ms, one line per try in a
  // log named by its pid ("OK", else the errno or TIMEOUT).
  const std::string marker = "follow-" + std::to_string(getpid());
  const std::string loop = "while :; do r=$(timeout 0.3 " + test::bin("rebound-nettool") + " connect " + net.server_ip +
                           " 7311); echo \"${r:-TIMEOUT}\" >> " + d.path() + "/$$.log; sleep 0.05; done # " + marker;
  test::Child supervisor(
      net.in(net.client, {test::bin("rebound-supervisor"), "--restart-delay-ms", "100", "--", "/bin/sh", "-c", loop}));
  TargetSpec spec;
  spec.name = "svc";
  spec.kind = TargetKind::cmdline;
  spec.value = "^/bin/sh -c while .*# " + marker + "$";
  auto service = [&]() -> pid_t {
    auto m = match_target(spec);
    return m && m->size() == 1 ? m->front().pid : 0;
  };
  REQUIRE(test::wait_for([&] { return service() != 0; }, 5000));
  const pid_t old_pid = service();
  const auto log_of = [&](pid_t pid) { return d.path() + "/" + std::to_string(pid) + ".log"; };
  REQUIRE(test::wait_for([&] { return lines_of(log_of(old_pid)).size() >= 2; }, 5000));
  CHECK(lines_of(log_of(old_pid)).back() == "OK");

  test::RunningFault fault("[[targets]]\nname = \"svc\"\ncmdline = \"" + spec.value + "\"\n",
                           "type = \"network.partition\"\ntarget = \"svc\"\npeers = [\"" + net.server_ip + "/32\"]");
  CHECK(test::wait_for([&] { return last_failed(log_of(old_pid), 3); }, 5000));

  // The supervisor restarts the service: the new process is moved into the fault's cgroup and cut off too.
  kill(old_pid, SIGKILL);
  pid_t new_pid = 0;
  REQUIRE(test::wait_for([&] { return (new_pid = service()) != 0 && new_pid != old_pid; }, 5000));
  const std::string cgroup = "/proc/" + std::to_string(new_pid) + "/cgroup";
  REQUIRE(test::wait_for([&] { return test::read_text(cgroup).find("rebound-") != std::string::npos; }, 3000));
  const double delay = age_ms(new_pid);
  WARN("the restarted service was in the fault's cgroup " << delay << " ms after it started");
  CHECK(delay < 1000);  // the issue asks for 300 ms; generous here, the measured figure is in the warning
  CHECK(test::wait_for([&] { return last_failed(log_of(new_pid), 5); }, 5000));
  // Nobody else is cut off: the test itself, in the same namespace, reaches the server.
  CHECK(test::sh("ip netns exec " + net.client + " " + test::bin("rebound-nettool") + " connect " + net.server_ip +
                 " 7311") == "OK\n");

  fault.stop();
  CHECK(test::wait_for([&] { return lines_of(log_of(new_pid)).back() == "OK"; }, 5000));
  CHECK(test::read_text(cgroup).find("rebound-") == std::string::npos);
  auto step = fault.journal()["steps"][0];
  INFO(step.dump());
  CHECK(step["detail"]["followed_processes"] == 1);
  CHECK(step["detail"]["followed"][0]["pid"] == new_pid);
  WARN("rebound reached the restarted service " << step["detail"]["followed"][0]["age_ms"] << " ms after it started");
  CHECK(fault.records() == 0);
}

namespace {
// The cgroup v2 path of a process.
std::string cgroup_of(pid_t pid) {
  auto text = test::read_text("/proc/" + std::to_string(pid) + "/cgroup");
  auto at = text.find("0::");
  if (at == std::string::npos) return "";
  return test::cgroup2_root() + text.substr(at + 3, text.find('\n', at) - at - 3);
}
}  // namespace

TEST_CASE("follow: after a SIGKILL of rebound and its guardian, rebound recover brings a followed process out of the "
          "cgroup made for it",
          "[root][network][follow]") {
  if (!test::privileged()) return;
  Sleepers s;
  auto first = s.start();
  test::TestCgroup home;  // the newcomer lives elsewhere: the fault makes a cgroup for it there, while it lasts
  test::RunningFault fault(s.target("max_targets = 4\n"),
                           "type = \"network.loss\"\ntarget = \"sleepers\"\nprobability = 1.0");
  test::Child second({"/bin/sh", "-c", "echo $$ > " + home.path() + "/cgroup.procs && exec " + s.path + " 120"});
  REQUIRE(test::wait_for([&] { return cgroup_of(second.pid()).starts_with(home.path() + "/rebound-"); }, 3000));
  const std::string made = cgroup_of(second.pid());
  test::kill_guardian(fault.rebound->pid());
  CHECK(fault.stop(SIGKILL) == -SIGKILL);
  CHECK(cgroup_of(second.pid()) == made);  // nothing but the record knows about it now
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(cgroup_of(second.pid()) == home.path());
  CHECK_FALSE(fs::exists(made));
  CHECK(cgroup_of(first->pid()).find("/rebound-") == std::string::npos);
  CHECK(fault.records() == 0);
}

// Validation: each message of the follow keys, with its file, line and column.
namespace {
std::string follow_step(const std::string& target, const std::string& keys) {
  return "name = \"t\"\n[[targets]]\nname = \"svc\"\n" + target +
         "\n[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
         "[[method]]\n" + keys;
}
const std::string kExe = "exe = \"nginx\"";
}  // namespace

TEST_CASE("message: follow on a step type that cannot follow", "[unit][validation][messages][follow]") {
  CHECK(test::only_error(follow_step(kExe, "type = \"process.kill\"\ntarget = \"svc\"\nfollow = true\n")) ==
        "exp.toml:12:10: error: method[0].follow: process.kill cannot follow its target's new processes here "
        "(process.stop and the packet network faults on a process target can; network.delay, tcp.toxic and faults "
        "on an interface cannot); remove follow");
  CHECK(test::only_error(follow_step(kExe, "type = \"network.loss\"\ninterface = \"eth0\"\nprobability = 0.1\n"
                                           "duration = \"5s\"\nfollow = true\n")) ==
        "exp.toml:14:10: error: method[0].follow: network.loss cannot follow its target's new processes here "
        "(process.stop and the packet network faults on a process target can; network.delay, tcp.toxic and faults "
        "on an interface cannot); remove follow");
}

TEST_CASE("message: follow on a cgroup or pid target", "[unit][validation][messages][follow]") {
  const std::string stop = "type = \"process.stop\"\ntarget = \"svc\"\nduration = \"5s\"\nfollow = true\n";
  CHECK(test::only_error(follow_step("pid = 1", stop)) ==
        "exp.toml:13:10: error: method[0].follow: target 'svc' names one pid, which a new process never has; name it "
        "by exe, cmdline or pidfile to follow its restarts; remove follow");
  CHECK(test::only_error(follow_step("cgroup = \"/sys/fs/cgroup/unified/x\"",
                                     "type = \"network.loss\"\ntarget = \"svc\"\nprobability = 0.1\n"
                                     "duration = \"5s\"\nfollow = true\n")) ==
        "exp.toml:14:10: error: method[0].follow: target 'svc' is a cgroup: its new processes are in the fault "
        "already; remove follow");
  // Without follow, such steps simply do not follow: no error.
  CHECK(test::errors_for(follow_step("pid = 1", "type = \"process.stop\"\ntarget = \"svc\"\nduration = \"5s\"\n"))
            .empty());
}

TEST_CASE("message: follow_interval without following", "[unit][validation][messages][follow]") {
  CHECK(test::only_error(follow_step(kExe, "type = \"process.stop\"\ntarget = \"svc\"\nduration = \"5s\"\n"
                                           "follow = false\nfollow_interval = \"1s\"\n")) ==
        "exp.toml:14:19: error: method[0].follow_interval: follow_interval has no effect with follow = false; remove it");
  CHECK(test::only_error(follow_step("pid = 1", "type = \"process.stop\"\ntarget = \"svc\"\nduration = \"5s\"\n"
                                                "follow_interval = \"1s\"\n")) ==
        "exp.toml:13:19: error: method[0].follow_interval: target 'svc' names one pid, which a new process never has; "
        "name it by exe, cmdline or pidfile to follow its restarts; remove follow_interval");
}

TEST_CASE("message: follow_interval below 10ms", "[unit][validation][messages][follow]") {
  CHECK(test::only_error(follow_step(kExe, "type = \"process.stop\"\ntarget = \"svc\"\nduration = \"5s\"\n"
                                           "follow_interval = \"5ms\"\n")) ==
        "exp.toml:13:19: error: method[0].follow_interval: follow_interval must be at least 10ms");
  CHECK(test::errors_for(follow_step(kExe, "type = \"process.stop\"\ntarget = \"svc\"\nduration = \"5s\"\n"
                                           "follow_interval = \"10ms\"\n"))
            .empty());
}

TEST_CASE("follow: --dry-run says which steps follow their target, and how often they look", "[integration][follow]") {
  Sleepers s;
  auto first = s.start();
  test::TempDir dir;
  const std::string probe = "[[probes]]\nname = \"ok\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n";
  auto follows = dir.write("a.toml", "name = \"a\"\n" + s.target() + probe +
                                         "[[method]]\ntype = \"process.stop\"\ntarget = \"sleepers\"\nduration = \"1s\"\n"
                                         "follow_interval = \"50ms\"\n");
  auto r = test::run_rebound({"run", "--dry-run", follows});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("follows its target: new matches join the fault (looks every 50ms") != std::string::npos);
  auto still = dir.write("b.toml", "name = \"b\"\n" + s.target() + probe +
                                       "[[method]]\ntype = \"process.stop\"\ntarget = \"sleepers\"\nduration = \"1s\"\n"
                                       "follow = false\n");
  auto r2 = test::run_rebound({"run", "--dry-run", still});
  INFO(r2.out << r2.err);
  CHECK(r2.exit_code == 0);
  CHECK(r2.out.find("follows its target") == std::string::npos);
  CHECK(running(first->pid()));  // a dry run injects nothing
}
