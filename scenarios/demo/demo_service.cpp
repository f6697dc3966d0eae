// The demo's system under test: a tiny HTTP service on 127.0.0.1 that answers every request with 200.
// --startup-delay makes a restart take a measurable time, like a real service warming up.
// With --upstream PORT it is a client service too: each request calls GET / on 127.0.0.1:PORT, giving
// each attempt --upstream-timeout-ms and retrying up to --retries times; it answers 200 when an attempt
// got a 200 in time, and 503 when none did.
// --fail-percent N answers 503 to N% of requests (a bad release, for the canary scenario).
// GET /metrics answers in the Prometheus text format: requests by status code (other than /metrics itself),
// their durations as a histogram, and the requests in progress.
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>
#include <unistd.h>

namespace {

int upstream_port = 0;
int upstream_timeout_ms = 500;
int retries = 0;
int fail_percent = 0;  // --fail-percent: this share of requests (not /health or /metrics) answers 503, evenly spread
std::atomic<uint64_t> answered{0};

// Whether the next request is one of the --fail-percent share: request n fails when n * percent crosses a
// multiple of 100, so 20 fails every fifth request.
bool next_fails() {
  const uint64_t n = answered++;
  return fail_percent > 0 && (n + 1) * static_cast<uint64_t>(fail_percent) / 100 > n * static_cast<uint64_t>(fail_percent) / 100;
}

std::string http_response(int status, const std::string& body,
                          const std::string& type = "text/plain") {
  return "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Service Unavailable") +
         "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// What /metrics shows. Atomics: a client service answers on one thread per request.
std::atomic<uint64_t> requests_200{0}, requests_503{0};
std::atomic<int64_t> in_flight{0};
constexpr std::array<double, 6> kBuckets = {0.001, 0.005, 0.025, 0.1, 0.5, 2.5};  // seconds
std::array<std::atomic<uint64_t>, kBuckets.size()> bucket_counts{};
std::atomic<uint64_t> duration_sum_us{0};

void observe(int status, std::chrono::steady_clock::time_point started) {
  (status == 200 ? requests_200 : requests_503)++;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  duration_sum_us += static_cast<uint64_t>(us);
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (static_cast<double>(us) / 1e6 <= kBuckets[i]) bucket_counts[i]++;
}

std::string metrics_page() {
  const uint64_t count = requests_200 + requests_503;
  std::string out =
      "# HELP rebound_demo_requests_total Requests answered, by status code.\n"
      "# TYPE rebound_demo_requests_total counter\n"
      "rebound_demo_requests_total{code=\"200\"} " + std::to_string(requests_200.load()) + "\n" +
      "rebound_demo_requests_total{code=\"503\"} " + std::to_string(requests_503.load()) + "\n" +
      "# HELP rebound_demo_in_flight_requests Requests being answered now.\n"
      "# TYPE rebound_demo_in_flight_requests gauge\n"
      "rebound_demo_in_flight_requests " + std::to_string(in_flight.load()) + "\n" +
      "# HELP rebound_demo_request_duration_seconds Time to answer a request.\n"
      "# TYPE rebound_demo_request_duration_seconds histogram\n";
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBuckets[i]);
    out += "rebound_demo_request_duration_seconds_bucket{le=\"" + std::string(le) + "\"} " +
           std::to_string(bucket_counts[i].load()) + "\n";
  }
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(duration_sum_us.load()) / 1e6);
  out += "rebound_demo_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n" +
         "rebound_demo_request_duration_seconds_sum " + sum + "\n" +
         "rebound_demo_request_duration_seconds_count " + std::to_string(count) + "\n";
  return out;
}

// One GET to the upstream within timeout_ms: true when it answered 200 in time.
bool call_upstream(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left_ms = [&] {
    return static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
  };
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(upstream_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t len = sizeof error;
    if (poll(&p, 1, std::max(left_ms(), 0)) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && !error) {
      const std::string request = "GET / HTTP/1.1\r\nHost: upstream\r\nConnection: close\r\n\r\n";
      std::string response;
      if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
        char buffer[4096];
        for (;;) {
          p = {fd, POLLIN, 0};
          if (left_ms() <= 0 || poll(&p, 1, left_ms()) != 1) break;
          ssize_t n = read(fd, buffer, sizeof buffer);
          if (n <= 0) break;
          response.append(buffer, static_cast<size_t>(n));
        }
      }
      ok = response.starts_with("HTTP/1.1 200") && left_ms() > 0;
    }
  }
  close(fd);
  return ok;
}

void serve(int client) {
  timeval timeout{1, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string request;
  char buffer[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    ssize_t n = read(client, buffer, sizeof buffer);
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  if (request.starts_with("GET /metrics ") && request.find("\r\n\r\n") != std::string::npos) {
    std::string response = http_response(200, metrics_page(), "text/plain; version=0.0.4");
    ssize_t ignored = write(client, response.data(), response.size());
    (void)ignored;
  } else if (request.find("\r\n\r\n") != std::string::npos) {
    const auto started = std::chrono::steady_clock::now();
    in_flight++;
    std::string response = http_response(200, "ok\n");
    int status = 200;
    if (upstream_port) {
      int attempt = 0;
      bool ok = false;
      while (!ok && attempt <= retries) ok = call_upstream(upstream_timeout_ms), ++attempt;
      response = ok ? http_response(200, "ok after " + std::to_string(attempt) + " attempt(s)\n")
                    : http_response(503, "upstream failed " + std::to_string(attempt) + " attempt(s)\n");
      status = ok ? 200 : 503;
    }
    if (status == 200 && !request.starts_with("GET /health ") && next_fails()) {
      response = http_response(503, "failed on purpose (--fail-percent)\n");
      status = 503;
    }
    ssize_t ignored = write(client, response.data(), response.size());
    (void)ignored;
    observe(status, started);
    in_flight--;
  }
  close(client);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 18080;
  int startup_delay_ms = 0;
  int working_set_mib = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port") port = std::atoi(argv[i + 1]);
    else if (flag == "--startup-delay-ms") startup_delay_ms = std::atoi(argv[i + 1]);
    else if (flag == "--upstream") upstream_port = std::atoi(argv[i + 1]);
    else if (flag == "--upstream-timeout-ms") upstream_timeout_ms = std::atoi(argv[i + 1]);
    else if (flag == "--retries") retries = std::atoi(argv[i + 1]);
    else if (flag == "--fail-percent") fail_percent = std::atoi(argv[i + 1]);
    else if (flag == "--working-set-mib") working_set_mib = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: %s [--port N] [--startup-delay-ms N] [--upstream PORT [--upstream-timeout-ms N] "
                   "[--retries N]] [--working-set-mib N]\n",
                   argv[0]);
      return 2;
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  usleep(static_cast<useconds_t>(startup_delay_ms) * 1000);
  // Memory the service needs to run, touched so that it is resident (a cache, a heap): what memory faults squeeze.
  std::vector<char> working_set(static_cast<size_t>(working_set_mib) << 20);
  for (size_t at = 0; at < working_set.size(); at += 4096) working_set[at] = 1;
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int yes = 1;
  setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(server, SOMAXCONN) != 0) {
    std::fprintf(stderr, "demo-service: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::fprintf(stderr, "demo-service: pid %d listening on 127.0.0.1:%d\n", getpid(), port);
  for (;;) {
    int client = accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // A client service waits on its upstream: one thread per request, so a slow one does not hold up the rest.
    if (upstream_port) std::thread(serve, client).detach();
    else serve(client);
  }
}
