// Traffic for the network-fault tests; runs inside the tests' network namespaces (ip netns exec).
//   nettool [--cgroup PATH] [--netns NAME] MODE ARGS...
//     --cgroup: join that cgroup v2 before opening any socket; --netns: then enter /run/netns/NAME
//     (setns, not `ip netns exec`, which remounts /sys and so hides the cgroup v2 mount)
//   udp-sink PORT IDLE_MS                  {"received","unique","duplicates","corrupted"} after IDLE_MS of silence
//   udp-send HOST PORT COUNT SIZE GAP_US   sends COUNT numbered datagrams
//   connect HOST PORT                      prints OK or the errno name
//   tcp-sink PORT                          accepts one connection, reads to EOF: {"bytes","seconds"}
//   tcp-send HOST PORT SECONDS             writes as fast as it can: {"bytes","seconds"}
//   dns SERVER NAME TIMEOUT_MS             one A query: prints the rcode, or "timeout"
//   tcp-serve PORT                         answers each connection's request line "N [hold]": N bytes, then
//                                          closes (or, with hold, waits for the client to close)
//   tcp-request HOST PORT COUNT N [hold]   (HOST: IPv4 or IPv6) COUNT connections one after another, each asking for N bytes:
//                                          {"results": [{"connect_ms","first_ms","data_ms","end_ms","bytes","reads","end"}]}
//                                          end: "eof", an errno name, or "timeout" (10 s)
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <thread>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in address(const char* host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "nettool: bad address %s\n", host);
    std::exit(2);
  }
  return a;
}

const char* errno_name(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNRESET: return "ECONNRESET";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    default: return strerror(e);
  }
}

uint8_t pattern(uint64_t seq, size_t i) { return static_cast<uint8_t>((seq * 31 + i * 7) & 0xff); }

int udp_sink(int port, int idle_ms) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return perror("bind"), 1;
  std::printf("ready\n");
  std::fflush(stdout);
  std::set<uint64_t> seen;
  size_t received = 0, duplicates = 0, corrupted = 0;
  std::vector<uint8_t> buf(65536);
  bool any = false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, any ? idle_ms : 3000) <= 0) break;
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 8) continue;
    any = true;
    ++received;
    uint64_t seq = 0;
    std::memcpy(&seq, buf.data(), 8);
    bool damaged = false;
    for (ssize_t i = 8; i < n; ++i)
      if (buf[static_cast<size_t>(i)] != pattern(seq, static_cast<size_t>(i))) damaged = true;
    if (damaged) {
      ++corrupted;
      continue;  // a damaged sequence number cannot be trusted
    }
    if (!seen.insert(seq).second) ++duplicates;
  }
  std::printf("{\"received\": %zu, \"unique\": %zu, \"duplicates\": %zu, \"corrupted\": %zu}\n", received, seen.size(),
              duplicates, corrupted);
  return 0;
}

int udp_send(const char* host, int port, int count, int size, int gap_us) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = address(host, port);
  std::vector<uint8_t> buf(static_cast<size_t>(std::max(size, 8)));
  int sent = 0;
  for (uint64_t seq = 0; seq < static_cast<uint64_t>(count); ++seq) {
    std::memcpy(buf.data(), &seq, 8);
    for (size_t i = 8; i < buf.size(); ++i) buf[i] = pattern(seq, i);
    if (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == static_cast<ssize_t>(buf.size()))
      ++sent;
    if (gap_us) usleep(static_cast<useconds_t>(gap_us));
  }
  std::printf("{\"sent\": %d}\n", sent);
  return 0;
}

int do_connect(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = address(host, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) std::printf("OK\n");
  else std::printf("%s\n", errno_name(errno));
  close(fd);
  return 0;
}

// A TCP listener on every address of the namespace, IPv4 and IPv6, or -1.
int listen_tcp(int port) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  int yes = 1, no = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, SOMAXCONN) != 0) {
    perror("listen");
    return -1;
  }
  return fd;
}

int tcp_sink(int port) {
  int fd = listen_tcp(port);
  if (fd < 0) return 1;
  std::printf("ready\n");
  std::fflush(stdout);
  int c = accept(fd, nullptr, nullptr);
  auto start = Clock::now();
  size_t total = 0;
  std::vector<char> buf(1 << 16);
  for (ssize_t n; (n = read(c, buf.data(), buf.size())) > 0;) total += static_cast<size_t>(n);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"bytes\": %zu, \"seconds\": %.3f}\n", total, seconds);
  return 0;
}

int tcp_send(const char* host, int port, double seconds) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = address(host, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::printf("%s\n", errno_name(errno)), 1;
  std::vector<char> buf(1 << 16, 'x');
  auto start = Clock::now();
  size_t total = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    ssize_t n = write(fd, buf.data(), buf.size());
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char drain[256];
  while (read(fd, drain, sizeof drain) > 0) {
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"bytes\": %zu, \"seconds\": %.3f}\n", total, elapsed);
  return 0;
}

int dns(const char* server, const char* name, int timeout_ms, int port = 53) {
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // id, RD, one question
  std::string n = name;
  size_t start = 0;
  while (start < n.size()) {
    size_t dot = n.find('.', start);
    std::string label = n.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});  // root, type A, class IN
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = address(server, port);
  sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return std::printf("timeout\n"), 0;
  uint8_t r[512];
  ssize_t got = recv(fd, r, sizeof r, 0);
  if (got < 12 || r[0] != 0x12 || r[1] != 0x34 || !(r[2] & 0x80)) return std::printf("bad answer\n"), 0;
  std::printf("%d\n", r[3] & 0x0f);
  return 0;
}

int tcp_serve(int port) {
  int fd = listen_tcp(port);
  if (fd < 0) return 1;
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    std::thread([c] {
      std::string line;
      char ch;
      while (line.size() < 100 && read(c, &ch, 1) == 1 && ch != '\n') line += ch;
      size_t want = std::strtoull(line.c_str(), nullptr, 10);
      bool hold = line.find("hold") != std::string::npos;
      std::vector<char> buf(1 << 16);
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('a' + i % 26);
      size_t sent = 0;
      while (sent < want) {
        ssize_t n = write(c, buf.data(), std::min(buf.size(), want - sent));
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      if (hold)
        while (read(c, buf.data(), buf.size()) > 0) {
        }
      close(c);
    }).detach();
  }
}

int tcp_request(const char* host, int port, int count, size_t want, bool hold) {
  sockaddr_storage a{};
  socklen_t a_len = sizeof(sockaddr_in);
  if (std::strchr(host, ':')) {
    auto* six = reinterpret_cast<sockaddr_in6*>(&a);
    six->sin6_family = AF_INET6;
    six->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host, &six->sin6_addr) != 1) return std::fprintf(stderr, "nettool: bad address %s\n", host), 2;
    a_len = sizeof(sockaddr_in6);
  } else {
    *reinterpret_cast<sockaddr_in*>(&a) = address(host, port);
  }
  std::string out = "{\"results\": [";
  for (int i = 0; i < count; ++i) {
    auto ms = [start = Clock::now()] { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); };
    int fd = socket(a.ss_family, SOCK_STREAM, 0);
    std::string end = "eof";
    double connect_ms = 0, first_ms = -1, data_ms = -1;
    size_t bytes = 0, reads = 0;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), a_len) != 0) {
      end = errno_name(errno);
    } else {
      connect_ms = ms();
      std::string request = std::to_string(want) + (hold ? " hold\n" : "\n");
      if (write(fd, request.data(), request.size()) < 0) end = errno_name(errno);
      std::vector<char> buf(1 << 16);
      while (end == "eof") {
        pollfd p{fd, POLLIN, 0};
        int left = static_cast<int>(10'000 - ms());
        if (left <= 0 || poll(&p, 1, left) <= 0) {
          end = "timeout";
          break;
        }
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n < 0) {
          end = errno_name(errno);
          break;
        }
        if (n == 0) break;
        if (first_ms < 0) first_ms = ms();
        data_ms = ms();
        bytes += static_cast<size_t>(n);
        ++reads;
      }
    }
    char item[320];
    std::snprintf(item, sizeof item,
                  "%s{\"connect_ms\": %.3f, \"first_ms\": %.3f, \"data_ms\": %.3f, \"end_ms\": %.3f, \"bytes\": %zu, "
                  "\"reads\": %zu, \"end\": \"%s\"}",
                  i ? ", " : "", connect_ms, first_ms, data_ms, ms(), bytes, reads, end.c_str());
    out += item;
    close(fd);
  }
  std::printf("%s]}\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  std::string netns;
  while (i + 1 < argc && std::string(argv[i]).starts_with("--")) {
    std::string option = argv[i];
    if (option == "--cgroup") {
      std::ofstream procs(std::string(argv[i + 1]) + "/cgroup.procs");
      procs << getpid() << std::flush;
      if (!procs) return std::fprintf(stderr, "nettool: cannot join cgroup %s\n", argv[i + 1]), 3;
    } else if (option == "--netns") {
      netns = argv[i + 1];
    } else {
      return std::fprintf(stderr, "nettool: unknown option %s\n", option.c_str()), 2;
    }
    i += 2;
  }
  if (!netns.empty()) {
    int fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) return std::fprintf(stderr, "nettool: cannot enter %s\n", netns.c_str()), 3;
    close(fd);
  }
  if (i >= argc) return 2;
  std::string mode = argv[i];
  char** a = argv + i + 1;
  int n = argc - i - 1;
  if (mode == "udp-sink" && n == 2) return udp_sink(std::atoi(a[0]), std::atoi(a[1]));
  if (mode == "udp-send" && n == 5) return udp_send(a[0], std::atoi(a[1]), std::atoi(a[2]), std::atoi(a[3]), std::atoi(a[4]));
  if (mode == "connect" && n == 2) return do_connect(a[0], std::atoi(a[1]));
  if (mode == "tcp-sink" && n == 1) return tcp_sink(std::atoi(a[0]));
  if (mode == "tcp-send" && n == 3) return tcp_send(a[0], std::atoi(a[1]), std::atof(a[2]));
  if (mode == "tcp-serve" && n == 1) return tcp_serve(std::atoi(a[0]));
  if (mode == "tcp-request" && (n == 4 || n == 5))
    return tcp_request(a[0], std::atoi(a[1]), std::atoi(a[2]), std::strtoull(a[3], nullptr, 10), n == 5);
  if (mode == "dns" && (n == 3 || n == 4)) return dns(a[0], a[1], std::atoi(a[2]), n == 4 ? std::atoi(a[3]) : 53);
  std::fprintf(stderr, "nettool: bad arguments for %s\n", mode.c_str());
  return 2;
}
