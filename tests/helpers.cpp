#include "helpers.hpp"

#include "experiments/loader.hpp"
#include "system/subprocess.hpp"
#include "system/targets.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace test {

std::string bin(const std::string& name) { return std::string(REBOUND_BIN_DIR) + "/" + name; }
std::string source(const std::string& path) { return std::string(REBOUND_SOURCE_DIR) + "/" + path; }

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "rebound-test-XXXXXX").string();
  path_ = mkdtemp(pattern.data());
}
TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}
std::string TempDir::write(const std::string& name, const std::string& text) const {
  std::string p = path_ + "/" + name;
  std::ofstream(p) << text;
  return p;
}

static pid_t spawn(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file,
                   const std::string& cwd) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // One file for both: share one descriptor, or each stream would overwrite the other's lines.
    int err = err_file == out_file ? out : open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

Child::Child(const std::vector<std::string>& argv, const std::string& output_file) {
  pid_ = spawn(argv, output_file, output_file, "");
}

Child::~Child() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

bool Child::alive() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> Child::wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (alive()) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFSIGNALED(status_) ? -WTERMSIG(status_) : WEXITSTATUS(status_);
}

void Child::signal(int sig) { kill(pid_, sig); }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

RunOutput run_rebound(const std::vector<std::string>& args, int timeout_ms, const std::string& cwd) {
  TempDir io;
  std::vector<std::string> argv{bin("rebound")};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = spawn(argv, io.path() + "/out", io.path() + "/err", cwd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  RunOutput r;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("rebound did not finish within " << timeout_ms << " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  r.out = read_text(io.path() + "/out");
  r.err = read_text(io.path() + "/err");
  return r;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

bool wait_for(const std::function<bool()>& condition, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

HttpServer::HttpServer(int status, std::string body, int delay_ms) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd_, 64) == 0);
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  std::string response = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n" + body;
  thread_ = std::thread([this, response, delay_ms] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buf[4096];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      ssize_t ignored = write(c, response.data(), response.size());
      (void)ignored;
      close(c);
    }
  });
}

HttpServer::~HttpServer() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

std::string HttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

pid_t guardian_of(pid_t rebound) {
  const std::string wanted = std::string("__guardian") + '\0' + std::to_string(rebound) + '\0';
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(entry.path().string() + "/cmdline");
    if (cmdline.find(wanted) != std::string::npos) return std::stoi(name);
  }
  return 0;
}

void kill_guardian(pid_t rebound) {
  pid_t guardian = guardian_of(rebound);
  REQUIRE(guardian > 0);
  kill(guardian, SIGKILL);
  REQUIRE(wait_for([&] {
    char state = rebound::process_state(guardian);
    return state == 0 || state == 'Z';
  }, 5000));
}

std::string sh(const std::string& command) {
  rebound::CommandSpec spec;
  spec.argv = {command};
  spec.shell = true;
  spec.timeout = rebound::Millis(30'000);
  auto r = rebound::run_command(spec);
  INFO(command);
  REQUIRE(r);
  INFO(r->err);
  REQUIRE(r->exit_code == 0);
  return r->out;
}

static std::atomic<int> g_net_sequence{0};

TestNet::TestNet() {
  int n = (getpid() * 7 + g_net_sequence++) % 250 + 1;
  std::string id = std::to_string(getpid() % 100000) + "x" + std::to_string(g_net_sequence.load());
  client = "rbc" + id;
  server = "rbs" + id;
  client_if = "rbc" + id;
  server_if = "rbs" + id;
  client_ip = "10.199." + std::to_string(n) + ".1";
  server_ip = "10.199." + std::to_string(n) + ".2";
  server_ip2 = "10.199." + std::to_string(n) + ".3";
  ip6_prefix = "fd00:199:" + std::to_string(n) + "::/64";
  client_ip6 = "fd00:199:" + std::to_string(n) + "::1";
  server_ip6 = "fd00:199:" + std::to_string(n) + "::2";
  sh("ip netns add " + client + " && ip netns add " + server);
  sh("ip link add " + client_if + " netns " + client + " type veth peer name " + server_if + " netns " + server);
  sh("ip -n " + client + " addr add " + client_ip + "/24 dev " + client_if);
  sh("ip -n " + server + " addr add " + server_ip + "/24 dev " + server_if);
  sh("ip -n " + server + " addr add " + server_ip2 + "/24 dev " + server_if);
  // nodad: usable at once, without duplicate address detection's delay.
  sh("ip -n " + client + " addr add " + client_ip6 + "/64 dev " + client_if + " nodad");
  sh("ip -n " + server + " addr add " + server_ip6 + "/64 dev " + server_if + " nodad");
  sh("ip -n " + client + " link set lo up && ip -n " + client + " link set " + client_if + " up");
  sh("ip -n " + server + " link set lo up && ip -n " + server + " link set " + server_if + " up");
}

TestNet::~TestNet() {
  rebound::CommandSpec spec;
  spec.argv = {"ip netns del " + client + "; ip netns del " + server};
  spec.shell = true;
  (void)rebound::run_command(spec);  // a destructor: a namespace that is already gone is fine
}

std::vector<std::string> TestNet::in(const std::string& ns, std::vector<std::string> argv) const {
  std::vector<std::string> out{"/usr/bin/ip", "netns", "exec", ns};
  if (!fs::exists(out[0])) out[0] = "/sbin/ip";
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::string> TestNet::tool(const std::string& ns, std::vector<std::string> args,
                                      const std::string& cgroup) const {
  std::vector<std::string> out{bin("rebound-nettool")};
  if (!cgroup.empty()) out.insert(out.end(), {"--cgroup", cgroup});
  out.insert(out.end(), {"--netns", ns});
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::string cgroup2_root() {
  std::ifstream mounts("/proc/mounts");
  std::string device, path, type, rest;
  while (mounts >> device >> path >> type && std::getline(mounts, rest))
    if (type == "cgroup2") return path;
  return "";
}

TestCgroup::TestCgroup() {
  static std::atomic<int> sequence{0};
  std::string root = cgroup2_root();
  REQUIRE_FALSE(root.empty());
  path_ = root + "/rebound-test-" + std::to_string(getpid()) + "-" + std::to_string(sequence++);
  fs::create_directory(path_);
}

TestCgroup::~TestCgroup() {
  // Move leftovers to the root, then remove the folder.
  for (int i = 0; i < 100; ++i) {
    std::ifstream procs(path_ + "/cgroup.procs");
    for (pid_t pid; procs >> pid;) std::ofstream(cgroup2_root() + "/cgroup.procs") << pid;
    if (rmdir(path_.c_str()) == 0 || errno == ENOENT) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void TestCgroup::adopt(pid_t pid) const { std::ofstream(path_ + "/cgroup.procs") << pid << "\n"; }

bool file_contains_soon(const std::string& path, const std::string& needle, int timeout_ms) {
  return wait_for([&] { return read_text(path).find(needle) != std::string::npos; }, timeout_ms);
}

std::time_t utc(int year, int month, int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return timegm(&tm);
}

bool privileged() {
  if (geteuid() == 0) return true;
  const char* ci = std::getenv("CI");
  if (ci && *ci) FAIL("this privileged test would skip: CI must run the tests as root");
  // Under CTest, exit with its skip code so the summary lists the test as skipped, not passed.
  if (std::getenv("REBOUND_UNDER_CTEST")) {
    std::fprintf(stderr, "SKIPPED: this test needs root (run the tests as root to include it)\n");
    std::exit(77);
  }
  WARN("skipped: this test needs root (run the tests as root to include it)");
  return false;
}

RunningFault::RunningFault(const std::string& targets, const std::string& step, const std::string& probes,
                           const std::vector<std::string>& launcher) {
  const std::string always =
      "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n";
  auto file = dir.write("net.toml", "name = \"net\"\n" + targets + (probes.empty() ? always : probes) +
                                        "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"fault\"\n" + step +
                                        "\nduration = \"60s\"\n");
  std::vector<std::string> argv = launcher;
  for (const auto& a : {bin("rebound"), std::string("run"), file, std::string("--report-dir"), reports,
                        std::string("--state-dir"), state, std::string("--no-progress")})
    argv.push_back(a);
  rebound = std::make_unique<Child>(argv, log);
  bool settled = wait_for([&] {
    auto text = read_text(log);
    return text.find(") applied") != std::string::npos || text.find("could not") != std::string::npos ||
           text.find("cannot run") != std::string::npos || !rebound->alive();
  }, 15'000);
  INFO(read_text(log));
  REQUIRE(settled);
  REQUIRE(read_text(log).find("step fault (") != std::string::npos);
  REQUIRE(read_text(log).find(") applied") != std::string::npos);
}

int RunningFault::stop(int sig) {
  rebound->signal(sig);
  auto code = rebound->wait(15'000);
  INFO(read_text(log));
  REQUIRE(code);
  return *code;
}

nlohmann::json RunningFault::journal() const { return read_json(reports + "/net/journal.json"); }

size_t RunningFault::records() const {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state, ec)) n += e.path().extension() == ".json";
  return n;
}

std::vector<std::string> errors_for(const std::string& text) {
  auto r = rebound::load_experiment_text(text, "exp.toml", rebound::LoadOptions{"/opt/rebound"});
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics.items()) out.push_back(d.format());
  if (out.empty()) REQUIRE(r.experiment.has_value());
  return out;
}

std::string only_error(const std::string& text) {
  auto e = errors_for(text);
  INFO("errors: " << e.size());
  for (const auto& x : e) INFO(x);
  REQUIRE(e.size() == 1);
  return e[0];
}

}  // namespace test
