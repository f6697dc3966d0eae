// Benchmarks that print numbers (never asserted): start-up to the first probe sample and peak RSS,
// probe sampling precision at 10 ms, and how many concurrent HTTP probes one core sustains.
// Each is compared in the same run with a Python probe loop (see peer_probe.py).
#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

std::string bin(const std::string& name) { return std::string(REBOUND_BIN_DIR) + "/" + name; }

struct Spawned {
  pid_t pid;
};

pid_t spawn(const std::vector<std::string>& argv, const std::string& out = "/dev/null", int cpu = -1) {
  pid_t pid = fork();
  if (pid == 0) {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

struct Stats {
  double min, p50, p95, p99, max, mean;
  size_t n;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(p / 100 * v.size())) - 1)]; };
  double sum = 0;
  for (double x : v) sum += x;
  return {v.front(), pct(50), pct(95), pct(99), v.back(), sum / v.size(), v.size()};
}

void print_stats(const char* label, const Stats& s, const char* unit) {
  std::printf("  %-34s n=%-5zu min %7.2f  p50 %7.2f  p95 %7.2f  p99 %7.2f  max %7.2f  mean %7.2f %s\n", label, s.n,
              s.min, s.p50, s.p95, s.p99, s.max, s.mean, unit);
}

// A listener that records the time of its first accepted connection.
struct FirstAccept {
  int fd;
  int port;
  FirstAccept() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd, 128);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~FirstAccept() { close(fd); }
  double wait_first(int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    double t = now_ms();
    int c = accept(fd, nullptr, nullptr);
    if (c >= 0) {
      const char* resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ssize_t ignored = write(c, resp, strlen(resp));
      (void)ignored;
      close(c);
    }
    return t;
  }
};

long reap(pid_t pid, int* status = nullptr) {
  int st = 0;
  rusage ru{};
  wait4(pid, &st, 0, &ru);
  if (status) *status = st;
  return ru.ru_maxrss;  // KiB
}

std::string write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p.string();
}

void bench_startup(const fs::path& dir, int runs) {
  std::printf("\n== start-up: from exec to the first probe sample, and peak RSS (%d runs each) ==\n", runs);
  std::vector<double> rb, py;
  std::vector<double> rb_rss, py_rss;
  for (int i = 0; i < runs; ++i) {
    FirstAccept listener;
    auto file = write_file(dir / "startup.toml",
                           "name = \"startup\"\n[[probes]]\nname = \"p\"\ntype = \"http\"\nurl = \"http://127.0.0.1:" +
                               std::to_string(listener.port) +
                               "/\"\ninterval = \"10ms\"\n[steady_state]\nwindow = \"300ms\"\nmin_success_ratio = 0\n");
    double t0 = now_ms();
    pid_t pid = spawn({bin("rebound"), "run", file, "--report-dir", (dir / "r").string(), "--state-dir",
                       (dir / "s").string(), "--no-progress"});
    double first = listener.wait_first(10'000);
    rb.push_back(first - t0);
    rb_rss.push_back(reap(pid) / 1024.0);
  }
  for (int i = 0; i < runs; ++i) {
    FirstAccept listener;
    double t0 = now_ms();
    pid_t pid = spawn({"python3", (fs::path(REBOUND_SOURCE_DIR) / "bench/peer_probe.py").string(),
                       "http://127.0.0.1:" + std::to_string(listener.port) + "/", "10", "300"});
    double first = listener.wait_first(10'000);
    py.push_back(first - t0);
    kill(pid, SIGKILL);
    py_rss.push_back(reap(pid) / 1024.0);
  }
  print_stats("rebound run: first sample", stats(rb), "ms");
  print_stats("python probe loop: first sample", stats(py), "ms");
  print_stats("rebound run: peak RSS", stats(rb_rss), "MiB");
  print_stats("python probe loop: peak RSS", stats(py_rss), "MiB");
  std::printf("  ratio (python / rebound): first sample p50 %.2fx, peak RSS p50 %.2fx\n", stats(py).p50 / stats(rb).p50,
              stats(py_rss).p50 / stats(rb_rss).p50);
}

std::vector<double> journal_starts(const fs::path& journal, const std::string& probe) {
  std::ifstream in(journal);
  auto j = nlohmann::json::parse(in);
  std::vector<double> out;
  for (const auto& p : j["probes"])
    if (p["name"] == probe)
      for (const auto& s : p["samples"]) out.push_back(s["t_ms"].get<double>());
  return out;
}

std::vector<double> deltas(const std::vector<double>& t) {
  std::vector<double> d;
  for (size_t i = 1; i < t.size(); ++i) d.push_back(t[i] - t[i - 1]);
  return d;
}

struct Service {
  pid_t pid;
  int port;
  Service(int port_, int cpu) : port(port_) {
    pid = spawn({bin("rebound-demo-service"), "--port", std::to_string(port)}, "/dev/null", cpu);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ~Service() {
    kill(pid, SIGKILL);
    reap(pid);
  }
};

void bench_precision(const fs::path& dir, double seconds) {
  std::printf("\n== probe precision: HTTP probe every 10 ms for %.0f s; intervals between sample starts ==\n", seconds);
  Service svc(18290, -1);
  std::string url = "http://127.0.0.1:18290/";
  auto file = write_file(dir / "precision.toml",
                         "name = \"precision\"\n[[probes]]\nname = \"p\"\ntype = \"http\"\nurl = \"" + url +
                             "\"\ninterval = \"10ms\"\n[steady_state]\nwindow = \"" + std::to_string(int(seconds)) +
                             "s\"\n");
  pid_t pid = spawn({bin("rebound"), "run", file, "--report-dir", (dir / "r").string(), "--state-dir",
                     (dir / "s").string(), "--no-progress"});
  reap(pid);
  auto starts = journal_starts(dir / "r/precision/journal.json", "p");
  // The journal also holds the after-check window: compare the same span as the peer's run.
  starts.erase(std::remove_if(starts.begin(), starts.end(),
                              [&](double t) { return t >= starts.front() + seconds * 1000; }),
               starts.end());
  auto rb = deltas(starts);
  auto out = (dir / "peer.txt").string();
  pid = spawn({"python3", (fs::path(REBOUND_SOURCE_DIR) / "bench/peer_probe.py").string(), url, "10",
               std::to_string(seconds * 1000)},
              out);
  reap(pid);
  std::ifstream in(out);
  std::string word, backend;
  in >> word >> backend;
  std::vector<double> t;
  double x;
  while (in >> x) t.push_back(x);
  auto py = deltas(t);
  print_stats("rebound: interval", stats(rb), "ms");
  print_stats(("python/" + backend + ": interval").c_str(), stats(py), "ms");
  std::printf("  samples in %.0f s: rebound %zu, python %zu (ideal %.0f); p99 lateness ratio (python / rebound) "
              "%.2fx\n",
              seconds, rb.size() + 1, py.size() + 1, seconds * 100, (stats(py).p99 - 10) / std::max(0.01, stats(rb).p99 - 10));
}

void bench_capacity(const fs::path& dir) {
  std::printf("\n== concurrent HTTP probes on one core: N probes every 100 ms, rebound pinned to CPU 0 ==\n");
  Service svc(18291, 1);
  for (int n : {50, 200, 800, 1200}) {
    std::string text = "name = \"capacity\"\n";
    for (int i = 0; i < n; ++i)
      text += "[[probes]]\nname = \"p" + std::to_string(i) +
              "\"\ntype = \"http\"\nurl = \"http://127.0.0.1:18291/\"\ninterval = \"100ms\"\ntimeout = \"2s\"\n";
    text += "[steady_state]\nwindow = \"3s\"\nmin_success_ratio = 0\n";
    auto file = write_file(dir / "capacity.toml", text);
    rusage before{};
    getrusage(RUSAGE_CHILDREN, &before);
    pid_t pid = spawn({bin("rebound"), "run", file, "--report-dir", (dir / "r").string(), "--state-dir",
                       (dir / "s").string(), "--no-progress"},
                      "/dev/null", 0);
    long rss = reap(pid);
    rusage after{};
    getrusage(RUSAGE_CHILDREN, &after);
    std::ifstream in(dir / "r/capacity/journal.json");
    auto j = nlohmann::json::parse(in);
    size_t samples = 0, ok = 0, late = 0;
    double expected = 0;
    std::vector<double> intervals;
    for (const auto& p : j["probes"]) {
      std::vector<double> t;
      for (const auto& s : p["samples"]) {
        ++samples;
        ok += s["ok"].get<bool>();
        t.push_back(s["t_ms"].get<double>());
      }
      if (t.empty()) continue;
      expected += (t.back() - t.front()) / 100.0 + 1;  // what a perfect 100 ms sampler takes over the same span
      auto d = deltas(t);
      for (double x : d) late += x > 150;
      intervals.insert(intervals.end(), d.begin(), d.end());
    }
    double cpu_s = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) + (after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                   ((after.ru_utime.tv_usec - before.ru_utime.tv_usec) + (after.ru_stime.tv_usec - before.ru_stime.tv_usec)) / 1e6;
    auto s = stats(intervals);
    double span_s = j["duration_ms"].get<double>() / 1000;
    std::printf("  N=%-5d samples %6zu of %6.0f ideal (%5.1f%%), >150ms gaps %4zu, ok %5.1f%%, interval p50 %6.1f p99 "
                "%6.1f ms, CPU %5.2f s in %4.1f s (%3.0f%% of the core), RSS %6.1f MiB\n",
                n, samples, expected, 100.0 * samples / expected, late, 100.0 * ok / std::max<size_t>(samples, 1), s.p50,
                s.p99, cpu_s, span_s, 100 * cpu_s / span_s, rss / 1024.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = argc > 1 ? argv[1] : "all";
  fs::path dir = fs::temp_directory_path() / ("rebound-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::printf("rebound benchmarks (%u cores); numbers are printed, not asserted\n", std::thread::hardware_concurrency());
  if (what == "all" || what == "startup") bench_startup(dir, 20);
  if (what == "all" || what == "precision") bench_precision(dir, 10);
  if (what == "all" || what == "capacity") bench_capacity(dir);
  fs::remove_all(dir);
}
