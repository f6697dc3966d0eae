#pragma once
// Test helpers: child processes the tests own, rebound runs as a user would, temp folders, a small HTTP server.
#include <atomic>
#include <csignal>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace test {

// The loader's diagnostics for an experiment file's text (validation tests), and the single one expected.
std::vector<std::string> errors_for(const std::string& text);
std::string only_error(const std::string& text);

std::string bin(const std::string& name);     // a binary from the build
std::string source(const std::string& path);  // a file from the source tree

// A temporary folder removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

// A child process (own process group) killed and reaped at the end of the test.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv, const std::string& output_file = "/dev/null");
  ~Child();
  Child(const Child&) = delete;
  pid_t pid() const { return pid_; }
  bool alive();
  // Waits for exit up to timeout_ms; the exit code, -signal if killed, or nullopt on timeout.
  std::optional<int> wait(int timeout_ms);
  void signal(int sig);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

struct RunOutput {
  int exit_code = -1;
  std::string out, err;
};
// Runs rebound with the arguments and waits (up to timeout_ms).
RunOutput run_rebound(const std::vector<std::string>& args, int timeout_ms = 60'000, const std::string& cwd = "");

nlohmann::json read_json(const std::string& path);
std::string read_text(const std::string& path);
bool wait_for(const std::function<bool()>& condition, int timeout_ms);
bool port_open(int port);

// A threaded HTTP server on 127.0.0.1 with a fixed answer; counts requests.
class HttpServer {
 public:
  HttpServer(int status, std::string body, int delay_ms = 0);
  ~HttpServer();
  int port() const { return port_; }
  std::string url(const std::string& path = "/") const;

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The guardian watching a rebound (its `rebound __guardian PID ...` process), or 0 when there is none.
pid_t guardian_of(pid_t rebound);
// SIGKILL to a rebound's guardian (and waits until it is gone): for tests of what `rebound recover` does when
// both die.
void kill_guardian(pid_t rebound);

// A shell command that must succeed (test set-up); returns its stdout.
std::string sh(const std::string& command);

// Two network namespaces of the test's own, client and server, joined by a veth pair:
// client 10.199.N.1 <-> server 10.199.N.2 and 10.199.N.3, and over IPv6 fd00:199:N::1 <-> fd00:199:N::2.
// Removed at the end of the test.
class TestNet {
 public:
  TestNet();
  ~TestNet();
  std::string client, server;        // namespace names
  std::string client_if, server_if;  // veth ends
  std::string client_ip, server_ip, server_ip2;
  std::string client_ip6, server_ip6, ip6_prefix;  // ip6_prefix: the /64 both are in
  // argv run inside a namespace (ip netns exec).
  std::vector<std::string> in(const std::string& ns, std::vector<std::string> argv) const;
  // rebound-nettool in a namespace, optionally inside a cgroup first.
  std::vector<std::string> tool(const std::string& ns, std::vector<std::string> args, const std::string& cgroup = "") const;
};

// rebound running one network fault (held for a minute, after a 200 ms baseline) until the test stops it.
// The constructor returns once the step is applied. `probes` defaults to one command probe that passes.
struct RunningFault {
  TempDir dir;
  std::string state = dir.path() + "/state";
  std::string reports = dir.path() + "/r";
  std::string log = dir.path() + "/rebound.log";
  std::unique_ptr<Child> rebound;

  RunningFault(const std::string& targets, const std::string& step, const std::string& probes = "",
               const std::vector<std::string>& launcher = {});
  int stop(int sig = SIGTERM);
  nlohmann::json journal() const;
  size_t records() const;  // fault records left in the state folder
};

// A cgroup v2 folder made for one test, emptied and removed after it.
class TestCgroup {
 public:
  TestCgroup();
  ~TestCgroup();
  const std::string& path() const { return path_; }
  void adopt(pid_t pid) const;

 private:
  std::string path_;
};

// The text a file holds once `needle` appears in it (or after timeout_ms).
bool file_contains_soon(const std::string& path, const std::string& needle, int timeout_ms);

// UTC seconds for a UTC date and time (fake clocks in tests).
std::time_t utc(int year, int month, int day, int hour, int minute);

// Where cgroup v2 is mounted.
std::string cgroup2_root();

// True if running as root; otherwise fails under CI (privileged tests must never skip there) and
// warns and skips elsewhere.
bool privileged();

}  // namespace test
