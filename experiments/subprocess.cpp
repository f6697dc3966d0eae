#include "experiments/subprocess.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <chrono>
#include <csignal>
#include <fmt/format.h>
#include <future>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

namespace rebound {

namespace {

// Runs in the child between fork and exec.
struct ChildSetup : bp::extend::handler {
  int death_signal = 0;
  template <class Executor>
  void on_exec_setup(Executor&) const {
    setpgid(0, 0);
    if (death_signal) prctl(PR_SET_PDEATHSIG, death_signal);
  }
};

struct Launch {
  boost::filesystem::path exe;
  std::vector<std::string> args;
  bp::environment env;
  boost::filesystem::path cwd;
};

Result<Launch> prepare(const CommandSpec& spec) {
  Launch l;
  std::vector<std::string> argv = spec.argv;
  if (spec.shell) argv = {"/bin/sh", "-c", spec.argv.at(0)};
  if (argv.at(0).find('/') == std::string::npos) {
    l.exe = bp::search_path(argv[0]);
    if (l.exe.empty()) return fail(fmt::format("command '{}' not found in PATH", argv[0]));
  } else {
    l.exe = argv[0];
    if (access(argv[0].c_str(), X_OK) != 0)
      return fail(fmt::format("cannot execute {}: {}", argv[0], std::strerror(errno)));
  }
  l.args.assign(argv.begin() + 1, argv.end());
  l.env = bp::environment(boost::this_process::environment());
  for (const auto& [k, v] : spec.env) l.env[k] = v;
  l.cwd = spec.cwd.empty() ? boost::filesystem::current_path() : boost::filesystem::path(spec.cwd);
  return l;
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto nl = text.rfind('\n');
  std::string line = nl == std::string::npos ? text : text.substr(nl + 1);
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

}  // namespace

bool CommandOutcome::as_expected(const CommandSpec& spec) const {
  if (timed_out || aborted) return false;
  if (!spec.expect_exit) return true;
  return exit_code == *spec.expect_exit;
}

std::string CommandOutcome::summary(const CommandSpec& spec) const {
  std::string what;
  if (timed_out) what = fmt::format("timed out after {}", format_duration(spec.timeout));
  else if (aborted) what = "stopped: experiment aborted";
  else if (term_signal) what = fmt::format("killed by signal {}", term_signal);
  else what = fmt::format("exit {}", exit_code);
  if (spec.expect_exit && !timed_out && !aborted && exit_code != *spec.expect_exit)
    what += fmt::format(", expected {}", *spec.expect_exit);
  std::string tail = last_line(err.empty() ? out : err);
  if (!tail.empty()) what += ": " + tail;
  return what;
}

Result<CommandOutcome> run_command(const CommandSpec& spec, const std::function<bool()>& should_abort) {
  auto launch = prepare(spec);
  if (!launch) return launch.error();
  boost::asio::io_context io;
  std::future<std::string> out, err;
  ChildSetup setup;
  auto started = Clock::now();
  std::error_code ec;
  bp::child child(launch->exe, bp::args(launch->args), bp::env(launch->env), bp::start_dir(launch->cwd),
                  bp::std_in.close(), bp::std_out > out, bp::std_err > err, io, setup, ec);
  if (ec) return fail(fmt::format("cannot start {}: {}", launch->exe.string(), ec.message()));
  const pid_t pid = child.id();
  CommandOutcome outcome;
  const auto deadline = started + std::chrono::duration_cast<Clock::duration>(spec.timeout);
  while (!io.stopped()) {
    io.run_for(std::chrono::milliseconds(20));
    if (io.stopped()) break;
    bool expired = Clock::now() >= deadline;
    bool abort = should_abort && should_abort();
    if (expired || abort) {
      outcome.timed_out = expired && !abort;
      outcome.aborted = abort;
      kill(-pid, SIGKILL);
      io.run();  // drain output until the pipes close
      break;
    }
  }
  child.wait(ec);
  outcome.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  int status = child.native_exit_code();
  if (WIFSIGNALED(status)) outcome.term_signal = WTERMSIG(status);
  else outcome.exit_code = WEXITSTATUS(status);
  outcome.out = out.valid() ? out.get() : "";
  outcome.err = err.valid() ? err.get() : "";
  return outcome;
}

struct BackgroundProcess::Impl {
  bp::child child;
};

BackgroundProcess::BackgroundProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BackgroundProcess>> BackgroundProcess::start(const CommandSpec& spec,
                                                                   const std::string& log_path) {
  auto launch = prepare(spec);
  if (!launch) return launch.error();
  ChildSetup setup;
  setup.death_signal = SIGTERM;  // if rebound dies, the system it started does not linger
  std::error_code ec;
  auto impl = std::make_unique<Impl>();
  impl->child = bp::child(launch->exe, bp::args(launch->args), bp::env(launch->env), bp::start_dir(launch->cwd),
                          bp::std_in.close(), (bp::std_out & bp::std_err) > log_path, setup, ec);
  if (ec) return fail(fmt::format("cannot start {}: {}", launch->exe.string(), ec.message()));
  return std::unique_ptr<BackgroundProcess>(new BackgroundProcess(std::move(impl)));
}

BackgroundProcess::~BackgroundProcess() {
  if (impl_) stop();
}

pid_t BackgroundProcess::pid() const { return impl_->child.id(); }

bool BackgroundProcess::running() {
  std::error_code ec;
  return impl_->child.running(ec);
}

std::string BackgroundProcess::stop(Millis grace) {
  std::error_code ec;
  if (!impl_->child.valid()) return "not started";
  if (!impl_->child.running(ec)) {
    int status = impl_->child.native_exit_code();
    return WIFSIGNALED(status) ? fmt::format("had exited (signal {})", WTERMSIG(status))
                               : fmt::format("had exited (exit {})", WEXITSTATUS(status));
  }
  const pid_t pid = impl_->child.id();
  kill(-pid, SIGTERM);
  kill(-pid, SIGCONT);  // a stopped group cannot act on SIGTERM
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(grace);
  while (impl_->child.running(ec) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string how = "stopped with SIGTERM";
  if (impl_->child.running(ec)) {
    kill(-pid, SIGKILL);
    how = fmt::format("did not stop within {}; killed", format_duration(grace));
  }
  impl_->child.wait(ec);
  return how;
}

}  // namespace rebound
