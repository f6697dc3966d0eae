// The proxy engine on its own, in the test's network namespace: a client connects to the proxy's listener
// after the test filed its destination in a steering map of its own (what the sock_ops program does for a
// steered connect), and the proxy forwards to a server of the test's. Root: the steering map is a BPF map.
#include <arpa/inet.h>
#include <atomic>
#include <bpf/bpf.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <toml++/toml.h>
#include <unistd.h>

#include "helpers.hpp"
#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/proxy_timers.hpp"
#include "injectors/network/toxic_proxy.hpp"
#include "netfault.h"

namespace fs = std::filesystem;
using rebound::Fd;
using rebound::ToxicProxy;

namespace {

// Toxics as a step would declare them: `toxics = [...]` entries, each parsed by the toxic's own parser.
std::vector<rebound::Toxic> toxics_from(const std::string& list) {
  auto doc = toml::parse("toxics = [" + list + "]");
  rebound::Diagnostics diagnostics("test");
  std::vector<rebound::Toxic> out;
  for (const auto& node : *doc["toxics"].as_array()) {
    rebound::TableReader reader(*node.as_table(), "toxics", diagnostics);
    rebound::Toxic toxic;
    REQUIRE(rebound::parse_toxic(reader, "toxic", toxic));
    reader.finish();
    out.push_back(std::move(toxic));
  }
  INFO(diagnostics.format_all());
  REQUIRE(diagnostics.empty());
  return out;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// A proxy with the given toxics, a steering map, and a server on 127.0.0.1.
struct EngineBed {
  Fd origins, server;
  std::unique_ptr<ToxicProxy> proxy;

  explicit EngineBed(const std::string& toxics, size_t buffer = ToxicProxy::kDefaultBuffer) {
    origins = Fd(bpf_map_create(BPF_MAP_TYPE_HASH, "test_origins", sizeof(netfault_steer_key), sizeof(netfault_origin),
                                1024, nullptr));
    REQUIRE(origins);
    server = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto a = loopback(0);
    REQUIRE(bind(server.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(server.get(), 16) == 0);
    auto started = ToxicProxy::start(toxics_from(toxics), origins.get(), 0, buffer);
    INFO((started ? "" : started.error().message));
    REQUIRE(started);
    proxy = std::move(*started);
  }

  // A client connected through the proxy, and the server's end of the proxy's upstream connection.
  std::pair<Fd, Fd> connect() {
    Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto any = loopback(0);
    REQUIRE(bind(client.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
    netfault_steer_key key{4, port_of(client.get())};
    netfault_origin origin{};
    origin.family = 4;
    origin.port = port_of(server.get());
    origin.addr[0] = htonl(INADDR_LOOPBACK);
    origin.listener = 4;
    REQUIRE(bpf_map_update_elem(origins.get(), &key, &origin, BPF_ANY) == 0);
    auto to_proxy = loopback(proxy->port4());
    REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&to_proxy), sizeof to_proxy) == 0);
    pollfd p{server.get(), POLLIN, 0};
    REQUIRE(poll(&p, 1, 5000) == 1);
    Fd accepted(accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(accepted);
    return {std::move(client), std::move(accepted)};
  }
};

char pattern(size_t i) { return static_cast<char>('a' + (i * 7 + i / 251) % 26); }

}  // namespace

TEST_CASE("many small writes under upstream latency: the proxy's descriptors stay bounded and every byte arrives",
          "[root][proxy]") {
  if (!test::privileged()) return;
  EngineBed bed("{ toxic = \"latency\", latency = \"2s\", direction = \"upstream\" }");
  size_t before = open_descriptors();
  auto [client, server] = bed.connect();
  constexpr size_t kWrites = 6000, kSize = 100;
  std::atomic<bool> sent{false};
  std::thread writer([fd = client.get(), &sent] {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char chunk[kSize];
    for (size_t w = 0; w < kWrites; ++w) {
      for (size_t i = 0; i < kSize; ++i) chunk[i] = pattern(w * kSize + i);
      if (write(fd, chunk, kSize) != static_cast<ssize_t>(kSize)) break;
      // A little apart, as a chatty client writes: each write arrives as a segment of its own (written back to
      // back, the receiving socket would merge them).
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    shutdown(fd, SHUT_WR);
    sent = true;
  });
  // The server reads everything and checks every byte; meanwhile the descriptors are counted.
  size_t received = 0, wrong = 0, most = 0;
  std::vector<char> buf(1 << 16);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    most = std::max(most, open_descriptors() - before);
    pollfd p{server.get(), POLLIN, 0};
    if (poll(&p, 1, 20) == 0) {
      if (std::chrono::steady_clock::now() > deadline) break;
      continue;
    }
    ssize_t n = read(server.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) wrong += buf[static_cast<size_t>(i)] != pattern(received + static_cast<size_t>(i));
    received += static_cast<size_t>(n);
  }
  writer.join();
  CHECK(sent);
  CHECK(received == kWrites * kSize);
  CHECK(wrong == 0);
  // Two sockets, and per direction a few pipes of two descriptors each (the test's own two sockets count too).
  INFO("most descriptors held at once for one connection: " << most);
  CHECK(most <= 2 + 2 + 2 * 2 * ToxicProxy::kMaxPipesPerFlow);
}

TEST_CASE("reset_peer far ahead and a bulk transfer: the proxy's timers do not grow with the traffic", "[root][proxy]") {
  if (!test::privileged()) return;
  EngineBed bed("{ toxic = \"reset_peer\", after = \"10m\" }");
  auto [client, server] = bed.connect();
  constexpr size_t kBytes = 32 << 20;
  std::thread sender([fd = server.get()] {
    std::vector<char> chunk(1 << 16, 'x');
    for (size_t sent = 0; sent < kBytes;) {
      ssize_t n = write(fd, chunk.data(), std::min(chunk.size(), kBytes - sent));
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  });
  size_t received = 0, most = 0;
  std::vector<char> buf(1 << 16);
  while (received < kBytes) {
    pollfd p{client.get(), POLLIN, 0};
    if (poll(&p, 1, 10'000) != 1) break;
    ssize_t n = read(client.get(), buf.data(), buf.size());
    if (n <= 0) break;
    received += static_cast<size_t>(n);
    most = std::max(most, bed.proxy->timer_entries());
  }
  sender.join();
  CHECK(received == kBytes);
  // One connection has one deadline that matters (its reset, 10 minutes ahead): the proxy keeps one entry per
  // connection, however many times the transfer woke it.
  INFO("most timer entries during the transfer: " << most);
  CHECK(most <= 2);
  CHECK(bed.proxy->timer_entries() <= 1);
}

TEST_CASE("the proxy's timers keep one deadline per connection, however often it is re-armed", "[proxy]") {
  rebound::ProxyTimers timers;
  for (int64_t t = 1000; t > 0; --t) timers.arm(7, t);  // earlier and earlier
  for (int64_t t = 1; t < 1000; ++t) timers.arm(8, t);  // later and later
  CHECK(timers.size() == 2);
  CHECK(timers.next() == 1);
  CHECK(timers.pop_due(0) == std::nullopt);
  CHECK(timers.pop_due(1) == std::optional<uint64_t>(7));
  CHECK(timers.pop_due(1) == std::nullopt);  // 8 is due at 999
  timers.cancel(8);
  CHECK(timers.size() == 0);
  CHECK(timers.next() == rebound::ProxyTimers::kNever);
}

TEST_CASE("when the proxy ends, a connection that still holds data is reset, not closed as if complete",
          "[root][proxy]") {
  if (!test::privileged()) return;
  EngineBed bed("{ toxic = \"latency\", latency = \"0ms\" }");
  auto [client, server] = bed.connect();
  auto [idle_client, idle_server] = bed.connect();
  // The server sends more than the client's socket and the proxy's buffer hold; the client reads nothing.
  int flags = fcntl(server.get(), F_GETFL);
  fcntl(server.get(), F_SETFL, flags | O_NONBLOCK);
  std::vector<char> chunk(1 << 16, 'x');
  size_t sent = 0;
  for (int idle = 0; idle < 20;) {
    ssize_t n = write(server.get(), chunk.data(), chunk.size());
    if (n > 0) {
      sent += static_cast<size_t>(n);
      idle = 0;
    } else {
      ++idle;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  REQUIRE(sent > ToxicProxy::kDefaultBuffer);
  bed.proxy.reset();  // what the end of the experiment does
  auto read_to_end = [](int fd, size_t& bytes) {
    std::vector<char> buf(1 << 16);
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) return std::string("timeout");
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n == 0) return std::string("eof");
      if (n < 0) return std::string(errno == ECONNRESET ? "ECONNRESET" : std::strerror(errno));
      bytes += static_cast<size_t>(n);
    }
  };
  size_t got = 0, idle_got = 0;
  CHECK(read_to_end(client.get(), got) == "ECONNRESET");  // the data it never got is not passed off as complete
  CHECK(got < sent);
  CHECK(read_to_end(idle_client.get(), idle_got) == "eof");  // nothing was lost on this one: a plain close
  CHECK(read_to_end(idle_server.get(), idle_got) == "eof");
}
