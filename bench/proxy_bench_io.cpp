#include "proxy_bench_io.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace proxy_bench {

namespace {

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

}  // namespace

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

Server::Server() : thread_([this] { run(); }) {}

Server::~Server() {
  stop_ = true;
  thread_.join();
}

void Server::run() {
  int answer_fd = listen_on(kAnswerPort), sink = listen_on(kSinkPort);
  int ep = epoll_create1(0);
  for (int fd : {answer_fd, sink}) {
    epoll_event ev{EPOLLIN, {.u64 = static_cast<uint64_t>(fd)}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  epoll_event events[128];
  while (!stop_) {
    int n = epoll_wait(ep, events, 128, 100);
    for (int i = 0; i < n; ++i) {
      int fd = static_cast<int>(events[i].data.u64);
      if (fd == answer_fd || fd == sink) {
        accept_from(ep, fd, fd == sink);
        continue;
      }
      ssize_t got = read(fd, buf_.data(), buf_.size());
      if (got <= 0) close(fd);
      else if (sink_of_[static_cast<size_t>(fd)]) sunk += static_cast<uint64_t>(got);
      else answer(fd, static_cast<size_t>(got));
    }
  }
  close(ep);
  close(answer_fd);
  close(sink);
}

void Server::accept_from(int ep, int listener, bool sink) {
  int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0 || c >= 65536) {
    if (c >= 0) close(c);
    return;
  }
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sink_of_[static_cast<size_t>(c)] = sink;
  lines_[static_cast<size_t>(c)].clear();
  epoll_event ev{EPOLLIN, {.u64 = static_cast<uint64_t>(c)}};
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
}

// The `got` bytes just read into buf_ from an answer connection: each complete line is answered.
void Server::answer(int fd, size_t got) {
  std::string& line = lines_[static_cast<size_t>(fd)];
  line.append(buf_.data(), got);
  for (size_t nl; (nl = line.find('\n')) != std::string::npos;) {
    std::string request = line.substr(0, nl);
    line.erase(0, nl + 1);
    size_t want = std::strtoul(request.c_str(), nullptr, 10);
    for (size_t sent = 0; sent < want;) {
      ssize_t w = write(fd, payload_.data(), std::min(payload_.size(), want - sent));
      if (w <= 0) break;
      sent += static_cast<size_t>(w);
    }
    if (request.ends_with("c")) {
      close(fd);
      return;
    }
  }
}

namespace {

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

Quantiles quantiles(std::vector<double> v, size_t failed) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {0, 0, failed};
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)], failed};
}

}  // namespace

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

}  // namespace proxy_bench
