// Revert does not depend on rebound surviving: its guardian undoes what a killed or crashed rebound left behind,
// with no `rebound recover`; a process frozen by two experiments resumes when the last ends; and rebound acts
// only on records it wrote itself.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/stat.h>
#include <thread>

#include "system/guardian.hpp"
#include "system/targets.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using rebound::process_state;

namespace {

const std::string kTrueProbe =
    "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n";

std::string experiment(const std::string& name, const std::string& targets, const std::string& step,
                       const std::string& duration) {
  return "name = \"" + name + "\"\n" + targets + kTrueProbe +
         "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"fault\"\n" + step + "\nduration = \"" + duration +
         "\"\n";
}

std::string pid_target(pid_t pid) { return "[[targets]]\nname = \"victim\"\npid = " + std::to_string(pid) + "\n"; }

// The fault records, hold files and run markers left in a state directory.
size_t leftovers(const std::string& state) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(state, ec); it != fs::recursive_directory_iterator(); ++it)
    n += it->path().extension() == ".json";
  return n;
}

// Nothing left within 1 s (the guardian removes a run marker just after it wrote the crashed journal).
bool no_leftovers(const std::string& state) {
  return test::wait_for([&] { return leftovers(state) == 0; }, 1000);
}

// rebound running one experiment until the test kills it; the constructor returns once `applied()` holds.
struct Rebound {
  test::TempDir dir;
  std::string state = dir.path() + "/state", reports = dir.path() + "/r", log = dir.path() + "/rebound.log";
  std::unique_ptr<test::Child> child;

  Rebound(const std::string& toml, const std::function<bool()>& applied, const std::string& state_dir = "") {
    if (!state_dir.empty()) state = state_dir;
    auto file = dir.write("x.toml", toml);
    // handle_segv=0: in the ASan build, AddressSanitizer would catch the SIGSEGV these tests send and exit(1)
    // instead of dying by it (env execs rebound in place, so the pid is rebound's).
    child = std::make_unique<test::Child>(std::vector<std::string>{"/usr/bin/env", "ASAN_OPTIONS=handle_segv=0",
                                                                   test::bin("rebound"), "run", file, "--report-dir",
                                                                   reports, "--state-dir", state, "--no-progress"},
                                          log);
    bool ok = test::wait_for([&] {
      return (test::read_text(log).find(") applied") != std::string::npos && applied()) || !child->alive();
    }, 15'000);
    INFO(test::read_text(log));
    REQUIRE(ok);
    REQUIRE(child->alive());
    REQUIRE(test::read_text(log).find(") applied") != std::string::npos);
  }
  pid_t pid() const { return child->pid(); }
  // Kills rebound with `sig`, and returns how long, in ms, until `clean()` held (or -1 after 5 s).
  double kill_and_time(int sig, const std::function<bool()>& clean) {
    auto sent = std::chrono::steady_clock::now();
    child->signal(sig);
    if (!test::wait_for(clean, 5000)) return -1;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
  }
  nlohmann::json journal(const std::string& name) const { return test::read_json(reports + "/" + name + "/journal.json"); }
};

std::string cgroup_of(pid_t pid) { return test::read_text("/proc/" + std::to_string(pid) + "/cgroup"); }

void check_crashed_journal(Rebound& r, const std::string& name, int sig, const std::string& type) {
  // The journal is written after the revert; rebound is reaped only now, so the guardian could read its signal.
  const std::string path = r.reports + "/" + name + "/journal.json";
  REQUIRE(test::wait_for([&] { return test::read_text(path).find("\"crashed\"") != std::string::npos; }, 5000));
  CHECK(r.child->wait(5000) == -sig);
  auto j = r.journal(name);
  CHECK(j["status"] == "crashed");
  CHECK(j["verdict"] == "error");
  CHECK(j["crash"]["signal"] == (sig == SIGKILL ? "SIGKILL" : "SIGSEGV"));
  REQUIRE(j["reverted"].size() == 1);
  CHECK(j["reverted"][0]["type"] == type);
  CHECK(j["reverted"][0]["reverted"] == true);
}

}  // namespace

TEST_CASE("rebound killed mid process.stop: its guardian resumes the process at once", "[integration][guardian]") {
  const int sig = GENERATE(SIGKILL, SIGSEGV);
  INFO("signal " << sig);
  test::Child sleeper({"/bin/sleep", "120"});
  Rebound r(experiment("freeze", pid_target(sleeper.pid()), "type = \"process.stop\"\ntarget = \"victim\"", "60s"),
            [&] { return process_state(sleeper.pid()) == 'T'; });
  CHECK(leftovers(r.state) == 3);  // the fault record, its hold and the run marker
  double ms = r.kill_and_time(sig, [&] {
    char s = process_state(sleeper.pid());
    return s == 'S' || s == 'R';
  });
  CHECK(ms >= 0);
  CHECK(ms < 1000);
  WARN("process.stop resumed " << ms << " ms after signal " << sig);
  check_crashed_journal(r, "freeze", sig, "process.stop");
  CHECK(no_leftovers(r.state));
  CHECK(sleeper.alive());
}

TEST_CASE("the guardian holds nothing of rebound's and outlives a signal to rebound's process group",
          "[integration][guardian]") {
  test::Child sleeper({"/bin/sleep", "120"});
  Rebound r(experiment("freeze", pid_target(sleeper.pid()), "type = \"process.stop\"\ntarget = \"victim\"", "60s"),
            [&] { return process_state(sleeper.pid()) == 'T'; });
  pid_t g = test::guardian_of(r.pid());
  REQUIRE(g > 0);
  const std::string proc = "/proc/" + std::to_string(g);
  CHECK(getsid(g) != getsid(r.pid()));
  CHECK(getpgid(g) != getpgid(r.pid()));
  // Not rebound's child: nothing waits for it.
  CHECK(test::read_text(proc + "/stat").find(") S " + std::to_string(r.pid()) + " ") == std::string::npos);
  // Held, not in passing: the guardian opens the state directory for a moment at every scan for deadlines.
  std::vector<std::string> fds;
  auto holds_only_its_own = [&] {
    fds.clear();
    for (const auto& e : fs::directory_iterator(proc + "/fd")) fds.push_back(e.path().filename().string());
    std::sort(fds.begin(), fds.end());
    return fds == std::vector<std::string>{"0", "1", "2", "3"};
  };
  CHECK(test::wait_for(holds_only_its_own, 2000));
  INFO(fds.size());
  for (const char* fd : {"0", "1", "2"}) CHECK(fs::read_symlink(proc + "/fd/" + fd) == "/dev/null");
  CHECK(fs::read_symlink(proc + "/fd/3").string().find("pidfd") != std::string::npos);

  // Ctrl-C in a terminal: SIGINT to the group. rebound reverts by itself and the guardian stays out of it.
  kill(-getpgid(r.pid()), SIGINT);
  CHECK(r.child->wait(10'000) == 3);
  CHECK(process_state(sleeper.pid()) != 'T');
  CHECK(r.journal("freeze")["status"] == "interrupted");
  CHECK(test::wait_for([&] { return process_state(g) == 0 || process_state(g) == 'Z'; }, 2000));
  CHECK_FALSE(fs::exists(r.state + "/guardian.log"));  // a clean end: nothing to do, nothing said
  CHECK(no_leftovers(r.state));
}

TEST_CASE("rebound killed mid pid-target network fault: its guardian moves the process back", "[root][guardian]") {
  if (!test::privileged()) return;
  const int sig = GENERATE(SIGKILL, SIGSEGV);
  const std::string type = GENERATE(std::string("network.loss\"\nprobability = 1.0"),
                                    std::string("network.partition\"\npeers = [\"10.199.0.1\"]"),
                                    std::string("network.delay\"\nlatency = \"100ms\""));
  INFO("signal " << sig << ", type " << type);
  test::TestCgroup home;
  test::Child victim({"/bin/sleep", "120"});
  home.adopt(victim.pid());
  const std::string before = cgroup_of(victim.pid());
  Rebound r(experiment("net", pid_target(victim.pid()), "type = \"" + type + "\ntarget = \"victim\"", "60s"),
            [&] { return cgroup_of(victim.pid()).find("rebound-") != std::string::npos; });
  const std::string during = cgroup_of(victim.pid());
  const std::string created = test::cgroup2_root() + during.substr(during.find("::") + 2,
                                                                   during.find('\n') - during.find("::") - 2);
  double ms = r.kill_and_time(sig, [&] { return cgroup_of(victim.pid()) == before; });
  CHECK(ms >= 0);
  CHECK(ms < 1000);
  WARN(type.substr(0, type.find('"')) << ": moved back " << ms << " ms after signal " << sig);
  CHECK(test::wait_for([&] { return !fs::exists(created); }, 1000));
  check_crashed_journal(r, "net", sig, type.substr(0, type.find('"')));
  CHECK(no_leftovers(r.state));
}

TEST_CASE("rebound killed mid interface fault: its guardian removes the tc filters and the clsact it added",
          "[root][guardian]") {
  if (!test::privileged()) return;
  const int sig = GENERATE(SIGKILL, SIGSEGV);
  test::TestNet net;
  auto filters = [&] {
    return test::sh("tc -netns " + net.client + " filter show dev " + net.client_if + " ingress; tc -netns " +
                    net.client + " filter show dev " + net.client_if + " egress");
  };
  Rebound r(experiment("net", "", "type = \"network.loss\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" +
                                      net.client + "\"\nprobability = 0.5", "60s"),
            [&] { return !filters().empty(); });
  double ms = r.kill_and_time(sig, [&] { return filters().empty(); });
  CHECK(ms >= 0);
  CHECK(ms < 1000);
  WARN("interface filters removed " << ms << " ms after signal " << sig);
  CHECK(test::wait_for([&] {
    return test::sh("tc -netns " + net.client + " qdisc show dev " + net.client_if).find("clsact") == std::string::npos;
  }, 1000));
  check_crashed_journal(r, "net", sig, "network.loss");
  CHECK(no_leftovers(r.state));
}

TEST_CASE("two rebounds freeze one process: it resumes only when the last of them ends", "[integration][guardian]") {
  test::Child sleeper({"/bin/sleep", "120"});
  auto frozen = [&] { return process_state(sleeper.pid()) == 'T'; };
  test::TempDir shared;
  const std::string state = shared.path() + "/state";
  const std::string step = "type = \"process.stop\"\ntarget = \"victim\"";
  Rebound a(experiment("a", pid_target(sleeper.pid()), step, "4s"), frozen, state);
  Rebound b(experiment("b", pid_target(sleeper.pid()), step, "8s"), frozen, state);
  // A ends its freeze first: the process stays frozen for B.
  REQUIRE(test::file_contains_soon(a.log, "step fault reverted", 10'000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(frozen());
  CHECK(a.child->wait(15'000) == 0);
  CHECK(frozen());
  auto ja = a.journal("a");
  CHECK(ja["verdict"] == "passed");
  CHECK(ja["steps"][0]["detail"]["resumed"].empty());
  REQUIRE(ja["steps"][0]["detail"]["kept_frozen"].size() == 1);
  CHECK(ja["steps"][0]["detail"]["kept_frozen"][0].get<std::string>().find("still held by experiment 'b'") !=
        std::string::npos);
  // B's end resumes it.
  REQUIRE(test::file_contains_soon(b.log, "step fault reverted", 15'000));
  CHECK(test::wait_for([&] { return !frozen(); }, 1000));
  CHECK(b.child->wait(15'000) == 0);
  CHECK(b.journal("b")["verdict"] == "passed");
  CHECK(b.journal("b")["steps"][0]["detail"]["resumed"][0] == sleeper.pid());
  CHECK(no_leftovers(state));
}

TEST_CASE("two rebounds freeze one process, one is killed: its guardian leaves the other's freeze alone",
          "[integration][guardian]") {
  test::Child sleeper({"/bin/sleep", "120"});
  auto frozen = [&] { return process_state(sleeper.pid()) == 'T'; };
  test::TempDir shared;
  const std::string state = shared.path() + "/state";
  const std::string step = "type = \"process.stop\"\ntarget = \"victim\"";
  Rebound a(experiment("a", pid_target(sleeper.pid()), step, "60s"), frozen, state);
  Rebound b(experiment("b", pid_target(sleeper.pid()), step, "4s"), frozen, state);
  a.child->signal(SIGKILL);
  REQUIRE(test::file_contains_soon(a.reports + "/a/journal.json", "crashed", 5000));
  CHECK(frozen());
  CHECK(a.journal("a")["reverted"][0]["outcome"].get<std::string>().find("left frozen: still held by experiment 'b'") !=
        std::string::npos);
  REQUIRE(test::file_contains_soon(b.log, "step fault reverted", 10'000));
  CHECK(test::wait_for([&] { return !frozen(); }, 1000));
  CHECK(b.child->wait(15'000) == 0);
  CHECK(no_leftovers(state));
}

namespace {

// A process stopped by the test, and a record that asks to resume it, written by hand.
struct Forgery {
  test::TempDir dir;
  test::Child victim{{"/bin/sleep", "120"}};
  std::string state = dir.path() + "/state";
  Forgery() {
    victim.signal(SIGSTOP);
    REQUIRE(test::wait_for([&] { return process_state(victim.pid()) == 'T'; }, 2000));
    fs::create_directory(state);
    chmod(state.c_str(), 0700);
  }
  std::string record() const {
    auto info = rebound::read_process(victim.pid());
    REQUIRE(info);
    return "{\"type\": \"process.stop\", \"step\": \"forged\", \"experiment\": \"forged\", \"owner\": {\"pid\": 1, "
           "\"start_time\": 1}, \"undo\": {\"sigcont\": [{\"pid\": " +
           std::to_string(victim.pid()) + ", \"start_time\": " + std::to_string(info->start_time) + "}]}}";
  }
  void write(const std::string& path) const {
    std::ofstream(path) << record();
    chmod(path.c_str(), 0600);
  }
};

}  // namespace

TEST_CASE("recover refuses a world-writable state directory and signals nothing", "[integration][guardian]") {
  Forgery f;
  f.write(f.state + "/fault-1-1-0.json");
  chmod(f.state.c_str(), 0777);
  auto r = test::run_rebound({"recover", "--state-dir", f.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.find("the state directory " + f.state + " is not trusted: it is writable by others (mode 0777)") !=
        std::string::npos);
  CHECK(r.err.find("recover: nothing was touched") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(process_state(f.victim.pid()) == 'T');
  CHECK(fs::exists(f.state + "/fault-1-1-0.json"));

  // rebound run will not record faults there either.
  auto file = f.dir.write("x.toml", experiment("x", "", "type = \"wait\"", "1s"));
  auto run = test::run_rebound({"run", file, "--state-dir", f.state, "--report-dir", f.dir.path() + "/r"});
  CHECK(run.exit_code == 4);
  CHECK(run.err.find("is not trusted") != std::string::npos);
  CHECK(run.err.find("nothing was run") != std::string::npos);
}

TEST_CASE("recover refuses a record that is a symbolic link, or writable by others, and signals nothing",
          "[integration][guardian]") {
  Forgery f;
  std::string expected;
  SECTION("a symbolic link") {
    f.write(f.dir.path() + "/elsewhere.json");
    fs::create_symlink(f.dir.path() + "/elsewhere.json", f.state + "/fault-1-1-0.json");
    expected = f.state + "/fault-1-1-0.json is a symbolic link: refused";
  }
  SECTION("writable by others") {
    f.write(f.state + "/fault-1-1-0.json");
    chmod((f.state + "/fault-1-1-0.json").c_str(), 0666);
    expected = f.state + "/fault-1-1-0.json is not trusted: it is writable by others (mode 0666)";
  }
  auto r = test::run_rebound({"recover", "--state-dir", f.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find(expected) != std::string::npos);
  CHECK(r.out.find("recover: 0 undone, 0 left to a running rebound, 1 failed") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(process_state(f.victim.pid()) == 'T');
}

TEST_CASE("recover refuses a record owned by another user", "[root][guardian]") {
  if (!test::privileged()) return;
  Forgery f;
  const std::string path = f.state + "/fault-1-1-0.json";
  f.write(path);
  REQUIRE(chown(path.c_str(), 65534, 65534) == 0);
  auto r = test::run_rebound({"recover", "--state-dir", f.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.out.find(path + " is not trusted: it belongs to uid 65534, not to rebound's user (uid 0)") !=
        std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(process_state(f.victim.pid()) == 'T');
}

TEST_CASE("a new state directory is created 0700", "[integration][guardian]") {
  test::TempDir dir;
  const std::string state = dir.path() + "/deep/state";
  auto file = dir.write("x.toml", experiment("x", "", "type = \"wait\"", "100ms"));
  auto r = test::run_rebound({"run", file, "--state-dir", state, "--report-dir", dir.path() + "/r", "--no-history"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  struct stat st {};
  REQUIRE(lstat(state.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
}

// Found by 3 parallel soaks of 100 kills: the watched rebound's zombie was reaped between the guardian's open
// and read of /proc/PID/stat, the read failed inside an istreambuf_iterator, which throws, and the guardian
// aborted with the fault still applied. A read that fails must give "ended", never an exception.
TEST_CASE("the guardian reads how rebound ended without throwing when the read fails", "[guardian]") {
  const rebound::RecordOwner parent{getpid(), 1};
  // A directory opens for reading and then fails every read with EISDIR: the same path through the stream as
  // a stat file whose process was reaped after the open.
  rebound::ParentEnd end;
  REQUIRE_NOTHROW(end = rebound::read_parent_end(parent, fs::temp_directory_path().string()));
  CHECK(end.describe() == "ended");
  CHECK_NOTHROW(end = rebound::read_parent_end(parent, "/proc/0/no-such-file"));
  CHECK(end.describe() == "ended");
}
