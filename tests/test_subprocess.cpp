// Commands run as a daemon manager would run them, with timeouts that bound time (issue 17 items 10 and 11,
// issue 15 part 4).
#include <catch2/catch.hpp>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include "system/subprocess.hpp"
#include "helpers.hpp"

using rebound::CommandSpec;
using rebound::Millis;

namespace {
CommandSpec shell(const std::string& line, int timeout_ms) {
  CommandSpec spec;
  spec.argv = {line};
  spec.shell = true;
  spec.timeout = Millis(timeout_ms);
  return spec;
}

CommandSpec argv(std::vector<std::string> args) {
  CommandSpec spec;
  spec.argv = std::move(args);
  spec.timeout = Millis(10'000);
  return spec;
}

// Dead or a zombie: what is left of a process once it ended.
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

pid_t pid_in(const std::string& text) { return static_cast<pid_t>(std::stol(text)); }
}  // namespace

TEST_CASE("run_command: a command that leaves a background job is done when it exits", "[unit][subprocess]") {
  // `sleep 4 & echo started` with a 1 s timeout was reported "timed out after 1s" although sh exited at once.
  auto r = rebound::run_command(shell("sleep 4 & echo $!", 1000));
  REQUIRE(r);
  CHECK_FALSE(r->timed_out);
  CHECK(r->exit_code == 0);
  CHECK(r->duration_ms < 900);
  kill(pid_in(r->out), SIGKILL);
}

TEST_CASE("run_command: a grandchild in its own session holding the pipes does not stretch a timeout",
          "[unit][subprocess]") {
  // With `setsid sleep 4 &` the step took 4.0 s despite its 1 s timeout.
  auto done = rebound::run_command(shell("setsid sleep 4 & echo $!", 1000));
  REQUIRE(done);
  CHECK_FALSE(done->timed_out);
  CHECK(done->duration_ms < 900);
  kill(pid_in(done->out), SIGKILL);
  auto hung = rebound::run_command(shell("setsid sleep 5 & echo $! >&2; sleep 10", 500));
  REQUIRE(hung);
  CHECK(hung->timed_out);
  CHECK(hung->duration_ms < 3000);
  CHECK(hung->summary(shell("", 500)).starts_with("timed out after 500ms"));
  kill(pid_in(hung->err), SIGKILL);
}

TEST_CASE("run_command: the child starts with default signal dispositions and an empty mask", "[unit][subprocess]") {
  // rebound ignores SIGPIPE and its threads may block signals: children got SigIgn 0x1000 and printed
  // "yes: standard output: Broken pipe".
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  auto status = rebound::run_command(argv({"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"}));
  auto pipe = rebound::run_command(shell("yes | head -n 1", 5000));
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  signal(SIGPIPE, old_pipe);
  REQUIRE(status);
  CHECK(status->out == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  REQUIRE(pipe);
  CHECK(pipe->err == "");
}

TEST_CASE("run_command: stdin is /dev/null and no descriptor of rebound's is open", "[unit][subprocess]") {
  const int leaked = open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as a library might do
  REQUIRE(leaked >= 0);
  auto fds = rebound::run_command(argv({"ls", "/proc/self/fd"}));
  auto in = rebound::run_command(argv({"readlink", "/proc/self/fd/0"}));
  close(leaked);
  REQUIRE(fds);
  CHECK(fds->out == "0\n1\n2\n3\n");  // 3 is ls's own listing of the folder
  REQUIRE(in);
  CHECK(in->out == "/dev/null\n");
}

TEST_CASE("background process: stop ends what it left in its process group", "[unit][subprocess]") {
  test::TempDir dir;
  const std::string pid_file = dir.path() + "/pid";
  auto spec = shell("sleep 60 & echo $! > " + pid_file, 10'000);
  auto bg = rebound::BackgroundProcess::start(spec, dir.path() + "/log");
  REQUIRE(bg);
  REQUIRE(test::wait_for([&] { return test::read_text(pid_file).size() > 1; }, 5000));
  const pid_t sleeper = pid_in(test::read_text(pid_file));
  REQUIRE(test::wait_for([&] { return !(*bg)->running(); }, 5000));  // sh is done, its job is not
  CHECK_FALSE(gone(sleeper));
  auto how = (*bg)->stop(Millis(2000));
  CHECK(how == "had exited (exit 0); what it left in its process group was stopped too");
  CHECK(test::wait_for([&] { return gone(sleeper); }, 3000));
  kill(sleeper, SIGKILL);
}

TEST_CASE("background process: after SIGKILL of rebound its shell's children do not survive", "[unit][subprocess]") {
  // Before: PDEATHSIG reached only the direct child; the shell died and its `sleep` lived on.
  test::TempDir dir;
  const std::string pid_file = dir.path() + "/pid";
  const pid_t owner = fork();
  REQUIRE(owner >= 0);
  if (owner == 0) {  // stands for rebound
    auto bg = rebound::BackgroundProcess::start(shell("sleep 60 & echo $! > " + pid_file + "; wait", 10'000),
                                                dir.path() + "/log");
    if (!bg) _exit(1);
    std::ofstream(dir.path() + "/ready") << "ready";
    for (;;) pause();
  }
  REQUIRE(test::wait_for([&] { return test::read_text(dir.path() + "/ready") == "ready"; }, 5000));
  REQUIRE(test::wait_for([&] { return test::read_text(pid_file).size() > 1; }, 5000));
  const pid_t sleeper = pid_in(test::read_text(pid_file));
  kill(owner, SIGKILL);
  waitpid(owner, nullptr, 0);
  CHECK(test::wait_for([&] { return gone(sleeper); }, 5000));
  kill(sleeper, SIGKILL);
}
