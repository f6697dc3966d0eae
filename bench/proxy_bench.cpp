// The proxy behind network.delay and tcp.toxic, with no toxic drawn (toxicity 0), against a direct connection
// and against socat as the proxy, in the same run, on loopback (root). Numbers are printed, never asserted.
//  1. per request on a new connection (connect, 100-byte request line, 100-byte answer, close): p50 and p99;
//  2. per round trip on one open connection: p50 and p99;
//  3. bulk: one connection writing as fast as it can for 1 s;
// 1-3 run unpinned (the scheduler places everything, as it would in production);
//  4. connections per second with the proxy (rebound's, or socat's forks) pinned to CPU 1 and the clients and
//     the server on CPU 0, with the proxy core's busy share;
//  5. rebound's memory per idle connection held open through the proxy.
#include <arpa/inet.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "injectors/network/bpf_handles.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kAnswerPort = 18241, kSinkPort = 18242, kSocatAnswer = 18243, kSocatSink = 18244;
using Clock = std::chrono::steady_clock;
double since_us(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

std::string bin(const std::string& name) { return std::string(REBOUND_BIN_DIR) + "/" + name; }

int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, SOMAXCONN) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  return fd;
}

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The server, one epoll thread. On the answer port each line "N" gets N bytes back, and "Nc" gets N bytes
// and a close (the server closes first, so clients keep no TIME_WAIT). The sink port reads and counts.
struct Server {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sunk{0};
  std::thread thread;
  Server() {
    thread = std::thread([this] {
      int answer = listen_on(kAnswerPort), sink = listen_on(kSinkPort);
      int ep = epoll_create1(0);
      for (int fd : {answer, sink}) {
        epoll_event ev{EPOLLIN, {.u64 = static_cast<uint64_t>(fd)}};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      }
      std::vector<char> sink_of(65536, 0);  // fd -> is a sink connection
      std::vector<std::string> lines(65536);
      std::vector<char> buf(1 << 16);
      std::string payload(1 << 16, 'x');
      epoll_event events[128];
      while (!stop) {
        int n = epoll_wait(ep, events, 128, 100);
        for (int i = 0; i < n; ++i) {
          int fd = static_cast<int>(events[i].data.u64);
          if (fd == answer || fd == sink) {
            int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0 || c >= 65536) {
              if (c >= 0) close(c);
              continue;
            }
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            sink_of[static_cast<size_t>(c)] = fd == sink;
            lines[static_cast<size_t>(c)].clear();
            epoll_event ev{EPOLLIN, {.u64 = static_cast<uint64_t>(c)}};
            epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
            continue;
          }
          ssize_t got = read(fd, buf.data(), buf.size());
          if (got <= 0) {
            close(fd);
            continue;
          }
          if (sink_of[static_cast<size_t>(fd)]) {
            sunk += static_cast<uint64_t>(got);
            continue;
          }
          std::string& line = lines[static_cast<size_t>(fd)];
          line.append(buf.data(), static_cast<size_t>(got));
          bool closed = false;
          for (size_t nl; !closed && (nl = line.find('\n')) != std::string::npos;) {
            std::string request = line.substr(0, nl);
            line.erase(0, nl + 1);
            size_t want = std::strtoul(request.c_str(), nullptr, 10);
            for (size_t sent = 0; sent < want;) {
              ssize_t w = write(fd, payload.data(), std::min(payload.size(), want - sent));
              if (w <= 0) break;
              sent += static_cast<size_t>(w);
            }
            if (request.ends_with("c")) {
              close(fd);
              closed = true;
            }
          }
        }
      }
      close(ep);
      close(answer);
      close(sink);
    });
  }
  ~Server() {
    stop = true;
    thread.join();
  }
};

bool read_exactly(int fd, size_t bytes) {
  char buf[4096];
  while (bytes > 0) {
    ssize_t n = read(fd, buf, std::min(sizeof buf, bytes));
    if (n <= 0) return false;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

// One request on a new connection; -1 on failure.
double request_once(int port) {
  auto t = Clock::now();
  int fd = connect_to(port);
  if (fd < 0) return -1;
  bool ok = write(fd, "100c\n", 5) == 5 && read_exactly(fd, 100);
  char c;
  ok = ok && read(fd, &c, 1) == 0;  // the server's close came through
  close(fd);
  return ok ? since_us(t) : -1;
}

struct Quantiles {
  double p50 = 0, p99 = 0;
  size_t failed = 0;
};
Quantiles quantiles(std::vector<double> v, size_t failed) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {0, 0, failed};
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)], failed};
}

Quantiles per_request(int port, int count) {
  std::vector<double> v;
  size_t failed = 0;
  for (int i = 0; i < count; ++i) {
    double us = request_once(port);
    if (us < 0) ++failed;
    else v.push_back(us);
  }
  return quantiles(v, failed);
}

Quantiles round_trips(int port, int count) {
  int fd = connect_to(port);
  std::vector<double> v;
  size_t failed = 0;
  for (int i = 0; i < count && fd >= 0; ++i) {
    auto t = Clock::now();
    if (write(fd, "100\n", 4) != 4 || !read_exactly(fd, 100)) {
      ++failed;
      break;
    }
    v.push_back(since_us(t));
  }
  if (fd >= 0) close(fd);
  return quantiles(v, failed);
}

double bulk_gbit(Server& server, int port, double seconds) {
  int fd = connect_to(port);
  if (fd < 0) return 0;
  std::vector<char> buf(1 << 16, 'y');
  uint64_t before = server.sunk;
  auto t = Clock::now();
  while (since_us(t) < seconds * 1e6)
    if (write(fd, buf.data(), buf.size()) <= 0) break;
  close(fd);
  // What the server received in the window (the proxy may still hold the tail: wait for it briefly).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double elapsed = since_us(t) / 1e6;
  return static_cast<double>(server.sunk - before) * 8 / elapsed / 1e9;
}

// CPU time (user + system) of a process and its reaped children, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  auto close_paren = text.rfind(')');
  std::vector<std::string> fields;
  std::string field;
  for (size_t i = close_paren + 2; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ' ') {
      fields.push_back(field);
      field.clear();
    } else {
      field += text[i];
    }
  }
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // fields[0] is state (field 3); utime, stime, cutime, cstime are fields 14..17.
  return (std::stod(fields[11]) + std::stod(fields[12]) + std::stod(fields[13]) + std::stod(fields[14])) / ticks;
}

// Sum of the CPU time of every process whose command line starts with `prefix` (socat's forks).
double cpu_of_all(const std::string& prefix) {
  double total = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmd)), {});
    if (text.starts_with(prefix)) {
      try {
        total += cpu_seconds(std::stoi(name));
      } catch (...) {
      }
    }
  }
  return total;
}

struct Rate {
  double per_second = 0;
  size_t failed = 0;
};
Rate connections_per_second(int port, int threads, double seconds) {
  std::atomic<uint64_t> done{0}, failed{0};
  std::vector<std::thread> clients;
  auto t = Clock::now();
  for (int i = 0; i < threads; ++i)
    clients.emplace_back([&] {
      while (since_us(t) < seconds * 1e6) (request_once(port) < 0 ? failed : done)++;
    });
  for (auto& c : clients) c.join();
  return {static_cast<double>(done) / (since_us(t) / 1e6), failed};
}

constexpr int kIdle = 2000;

double rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6));
  return 0;
}

void pin(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(pid, sizeof set, &set);
}

pid_t spawn(std::vector<std::string> argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    FILE* out = std::fopen(log.c_str(), "w");
    dup2(fileno(out), 1);
    dup2(fileno(out), 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  kill(-pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

void join_cgroup(const std::string& cgroup) { std::ofstream(cgroup + "/cgroup.procs") << getpid() << std::flush; }

void print_row(const char* name, const Quantiles& request, const Quantiles& trip, double gbit) {
  std::printf("  %-8s  new connection p50 %7.1f us  p99 %7.1f us   round trip p50 %6.1f us  p99 %6.1f us   bulk %6.2f "
              "Gbit/s%s\n",
              name, request.p50, request.p99, trip.p50, trip.p99, gbit,
              request.failed + trip.failed ? "  (failures!)" : "");
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "proxy bench: needs root (cgroup connect hooks)\n");
    return 1;
  }
  int requests = argc > 1 ? std::atoi(argv[1]) : 3000;
  std::signal(SIGPIPE, SIG_IGN);
  std::string root = rebound::cgroup2_mount();
  auto own = rebound::process_cgroup(getpid());
  std::string home = (own ? *own : root) + "/cgroup.procs";
  std::string cgroup = root + "/rebound-proxy-bench";
  fs::create_directory(cgroup);
  std::string dir = fs::temp_directory_path() / "rebound-proxy-bench";
  fs::create_directories(dir);
  Server server;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // socat, pinned to CPU 1 (its forks inherit it).
  pid_t socat1 = spawn({"socat", "TCP-LISTEN:" + std::to_string(kSocatAnswer) + ",bind=127.0.0.1,fork,reuseaddr",
                        "TCP:127.0.0.1:" + std::to_string(kAnswerPort)},
                       dir + "/socat1.log");
  pid_t socat2 = spawn({"socat", "TCP-LISTEN:" + std::to_string(kSocatSink) + ",bind=127.0.0.1,fork,reuseaddr",
                        "TCP:127.0.0.1:" + std::to_string(kSinkPort)},
                       dir + "/socat2.log");

  // rebound with no toxic drawn (toxicity 0): the proxy alone. Its target is the cgroup, anchored by a sleep.
  pid_t anchor = spawn({"sleep", "600"}, "/dev/null");
  std::ofstream(cgroup + "/cgroup.procs") << anchor << std::flush;
  std::ofstream(dir + "/bench.toml")
      << "name = \"proxy-bench\"\n[[targets]]\nname = \"clients\"\ncgroup = \"" << cgroup
      << "\"\nmax_targets = 1000\n[[probes]]\nname = \"idle\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
         "interval = \"10s\"\n[steady_state]\nwindow = \"10ms\"\n[[method]]\nname = \"proxy\"\ntype = \"tcp.toxic\"\n"
         "target = \"clients\"\nports = ["
      << kAnswerPort << ", " << kSinkPort
      << "]\ntoxic = \"latency\"\nlatency = \"0ms\"\ntoxicity = 0.0\nduration = \"10m\"\n";
  fs::remove(dir + "/rebound.log");  // the last run's log says "applied" too
  pid_t rebound = spawn({bin("rebound"), "run", dir + "/bench.toml", "--report-dir", dir + "/r", "--state-dir",
                         dir + "/state", "--no-progress", "--no-history"},
                        dir + "/rebound.log");
  bool applied = false;
  std::string text;
  for (int i = 0; i < 100 && !applied; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream log(dir + "/rebound.log");
    text.assign(std::istreambuf_iterator<char>(log), {});
    applied = text.find(") applied") != std::string::npos;
  }
  if (!applied) {
    std::fprintf(stderr, "proxy bench: rebound did not apply the step:\n%s\n", text.c_str());
    stop(rebound);
    stop(socat1);
    stop(socat2);
    kill(anchor, SIGKILL);
    return 1;
  }
  // The machine is shared and noisy: measure in rounds, each variant once per round, and report the median
  // of the rounds' figures.
  constexpr int kRounds = 5;
  std::printf("proxy overhead, loopback, no toxic; median of %d rounds, each round %d requests, %d round trips and "
              "1 s of bulk per variant:\n",
              kRounds, requests, requests * 5);
  struct Rounds {
    std::vector<double> req50, req99, rt50, rt99, bulk;
    void add(const Quantiles& req, const Quantiles& rt, double gbit) {
      req50.push_back(req.p50);
      req99.push_back(req.p99);
      rt50.push_back(rt.p50);
      rt99.push_back(rt.p99);
      bulk.push_back(gbit);
      failed += req.failed + rt.failed;
    }
    static double median(std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    }
    Quantiles request() const { return {median(req50), median(req99), failed}; }
    Quantiles trip() const { return {median(rt50), median(rt99), 0}; }
    double gbit() const { return median(bulk); }
    size_t failed = 0;
  } direct, socat, through_rebound;
  for (int round = 0; round < kRounds; ++round) {
    direct.add(per_request(kAnswerPort, requests), round_trips(kAnswerPort, requests * 5),
               bulk_gbit(server, kSinkPort, 1));
    socat.add(per_request(kSocatAnswer, requests), round_trips(kSocatAnswer, requests * 5),
              bulk_gbit(server, kSocatSink, 1));
    join_cgroup(cgroup);  // the bench's connects are steered through rebound until it leaves the cgroup
    through_rebound.add(per_request(kAnswerPort, requests), round_trips(kAnswerPort, requests * 5),
                        bulk_gbit(server, kSinkPort, 1));
    std::ofstream(home) << getpid() << std::flush;
  }
  auto direct_req = direct.request(), socat_req = socat.request(), rb_req = through_rebound.request();
  auto direct_rt = direct.trip(), socat_rt = socat.trip(), rb_rt = through_rebound.trip();
  double direct_bulk = direct.gbit(), socat_bulk = socat.gbit(), rb_bulk = through_rebound.gbit();
  print_row("direct", direct_req, direct_rt, direct_bulk);
  print_row("socat", socat_req, socat_rt, socat_bulk);
  print_row("rebound", rb_req, rb_rt, rb_bulk);
  std::printf("  added per request (p50/p99): rebound +%.1f/+%.1f us, socat +%.1f/+%.1f us\n",
              rb_req.p50 - direct_req.p50, rb_req.p99 - direct_req.p99, socat_req.p50 - direct_req.p50,
              socat_req.p99 - direct_req.p99);
  std::printf("  added per round trip (p50/p99): rebound +%.1f/+%.1f us, socat +%.1f/+%.1f us\n",
              rb_rt.p50 - direct_rt.p50, rb_rt.p99 - direct_rt.p99, socat_rt.p50 - direct_rt.p50,
              socat_rt.p99 - direct_rt.p99);
  std::printf("  bulk: rebound %.2fx of direct, socat %.2fx of direct (rebound/socat %.2fx)\n", rb_bulk / direct_bulk,
              socat_bulk / direct_bulk, rb_bulk / socat_bulk);

  // Now one core each: the proxy (every thread of rebound; socat's listener, which its forks inherit) on CPU 1,
  // the clients and the server on CPU 0.
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(rebound) + "/task"))
    pin(std::stoi(t.path().filename()), 1);
  pin(socat1, 1);
  for (const auto& t : fs::directory_iterator("/proc/self/task")) pin(std::stoi(t.path().filename()), 0);
  std::printf("\nconnections per second, proxy on CPU 1, 4 client threads and the server on CPU 0, 3 s:\n");
  join_cgroup(cgroup);
  double rb_cpu0 = cpu_seconds(rebound);
  auto rb_rate = connections_per_second(kAnswerPort, 4, 3);
  double rb_busy = (cpu_seconds(rebound) - rb_cpu0) / 3;
  std::ofstream(home) << getpid() << std::flush;  // out of the cgroup again
  auto direct_rate = connections_per_second(kAnswerPort, 4, 3);
  double socat_cpu0 = cpu_of_all("socat");
  auto socat_rate = connections_per_second(kSocatAnswer, 4, 3);
  double socat_busy = (cpu_of_all("socat") - socat_cpu0) / 3;
  std::printf("  direct   %8.0f conn/s\n", direct_rate.per_second);
  std::printf("  rebound  %8.0f conn/s  proxy core busy %3.0f%%  => %6.0f conn/s per busy core%s\n", rb_rate.per_second,
              rb_busy * 100, rb_rate.per_second / std::max(rb_busy, 0.01), rb_rate.failed ? "  (failures!)" : "");
  std::printf("  socat    %8.0f conn/s  proxy core busy %3.0f%%  => %6.0f conn/s per busy core%s\n",
              socat_rate.per_second, socat_busy * 100, socat_rate.per_second / std::max(socat_busy, 0.01),
              socat_rate.failed ? "  (failures!)" : "");
  std::printf("  rebound/socat: %.2fx conn/s\n", rb_rate.per_second / socat_rate.per_second);
  std::printf("  (socat's busy share: the listener's and its forks' CPU time, reaped or alive)\n");

  // Memory: idle connections held open through rebound's proxy. User-space memory is rebound's RSS; the
  // pipes' pages are kernel memory and are allocated only while data is held back (at most 1 MiB per direction).
  std::printf("\nmemory, %d idle connections held open through rebound's proxy:\n", kIdle);
  join_cgroup(cgroup);
  double rss_before = rss_kib(rebound);
  std::vector<int> idle;
  for (int i = 0; i < kIdle; ++i) {
    int fd = connect_to(kAnswerPort);
    if (fd >= 0) idle.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double rss_after = rss_kib(rebound);
  size_t fds = static_cast<size_t>(std::distance(fs::directory_iterator("/proc/" + std::to_string(rebound) + "/fd"),
                                                 fs::directory_iterator{}));
  std::printf("  opened %zu; rebound RSS %.1f -> %.1f MiB: %.2f KiB per connection; %zu descriptors open\n",
              idle.size(), rss_before / 1024, rss_after / 1024, (rss_after - rss_before) / std::max<size_t>(idle.size(), 1),
              fds);
  for (int fd : idle) close(fd);
  std::ofstream(home) << getpid() << std::flush;

  stop(rebound);
  stop(socat1);
  stop(socat2);
  kill(anchor, SIGKILL);
  waitpid(anchor, nullptr, 0);
  rmdir(cgroup.c_str());
  return 0;
}
