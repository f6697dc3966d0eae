#pragma once
// The proxy bench's server, clients and process measurements (proxy_bench.cpp runs them). Loopback only.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace proxy_bench {

constexpr int kAnswerPort = 18241, kSinkPort = 18242, kSocatAnswer = 18243, kSocatSink = 18244;
using Clock = std::chrono::steady_clock;
inline double since_us(Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t).count();
}

int connect_to(int port);  // -1 on failure

// The server, one epoll thread. On the answer port each line "N" gets N bytes back, and "Nc" gets N bytes
// and a close (the server closes first, so clients keep no TIME_WAIT). The sink port reads and counts.
class Server {
 public:
  Server();
  ~Server();
  std::atomic<uint64_t> sunk{0};

 private:
  void run();
  void accept_from(int ep, int listener, bool sink);
  void answer(int fd, size_t got);
  std::atomic<bool> stop_{false};
  std::vector<char> sink_of_ = std::vector<char>(65536, 0);  // fd -> is a sink connection
  std::vector<std::string> lines_ = std::vector<std::string>(65536);
  std::vector<char> buf_ = std::vector<char>(1 << 16);
  std::string payload_ = std::string(1 << 16, 'x');
  std::thread thread_;  // last: starts once the rest is ready
};

struct Quantiles {
  double p50 = 0, p99 = 0;
  size_t failed = 0;
};
// `count` requests, each on a new connection (connect, 100-byte request line, 100-byte answer, close), in us.
Quantiles per_request(int port, int count);
// `count` round trips of 100 bytes on one open connection, in us.
Quantiles round_trips(int port, int count);
// One connection writing as fast as it can to the sink for `seconds`: what the server received, in Gbit/s.
double bulk_gbit(Server& server, int port, double seconds);

struct Rate {
  double per_second = 0;
  size_t failed = 0;
};
// New-connection requests per second from `threads` clients over `seconds`.
Rate connections_per_second(int port, int threads, double seconds);

// CPU time (user + system) of a process and its reaped children, in seconds.
double cpu_seconds(pid_t pid);
// Sum of the CPU time of every process whose command line starts with `prefix` (socat's forks).
double cpu_of_all(const std::string& prefix);
double rss_kib(pid_t pid);
void pin(pid_t pid, int cpu);
// Starts argv in a process group of its own, its output in `log`; stop() ends the group.
pid_t spawn(std::vector<std::string> argv, const std::string& log);
void stop(pid_t pid);

}  // namespace proxy_bench
