#include "injectors/network/toxic_proxy.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <fcntl.h>
#include <fmt/format.h>
#include <future>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>

#include "injectors/network/network_fault.hpp"
#include "injectors/network/proxy_timers.hpp"
#include "netfault.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace rebound {

// ---------------------------------------------------------------------------------------------
// The toxics: parsing

namespace {

int64_t micros(Millis d) { return static_cast<int64_t>(d.count() * 1000.0); }

bool parse_latency(TableReader& reader, Toxic& t) {
  auto latency = reader.duration("latency", true);
  auto jitter = reader.duration("jitter");
  if (!latency) return false;
  t.latency_us = micros(*latency);
  t.jitter_us = jitter ? micros(*jitter) : 0;
  if (t.jitter_us > t.latency_us) {
    reader.error("jitter", "jitter cannot exceed latency (data cannot arrive before it was sent)");
    return false;
  }
  t.parameters["latency_ms"] = latency->count();
  t.parameters["jitter_ms"] = jitter ? jitter->count() : 0.0;
  return true;
}

bool parse_bandwidth(TableReader& reader, Toxic& t) {
  auto rate = read_rate(reader, "rate");
  if (!rate) return false;
  t.rate = *rate;
  t.parameters["rate_bytes_per_sec"] = t.rate;
  return true;
}

bool parse_slow_close(TableReader& reader, Toxic& t) {
  auto delay = reader.duration("delay", true);
  if (!delay) return false;
  t.delay_us = micros(*delay);
  t.parameters["delay_ms"] = delay->count();
  return true;
}

bool parse_timeout(TableReader& reader, Toxic& t) {
  auto after = reader.duration("after");
  t.after_us = after ? micros(*after) : 0;
  t.parameters["after_ms"] = after ? after->count() : 0.0;
  return true;
}

bool parse_reset_peer(TableReader& reader, Toxic& t) {
  auto after = reader.duration("after");
  t.after_us = after ? micros(*after) : 0;
  t.parameters["after_ms"] = after ? after->count() : 0.0;
  return true;
}

bool parse_slicer(TableReader& reader, Toxic& t) {
  auto average = reader.integer("average_size", true);
  auto variation = reader.integer("size_variation");
  auto delay = reader.duration("delay");
  if (!average) return false;
  if (*average < 1) {
    reader.error("average_size", "average_size is a number of bytes, at least 1");
    return false;
  }
  t.average_size = *average;
  t.size_variation = variation.value_or(0);
  if (t.size_variation < 0 || t.size_variation >= t.average_size) {
    reader.error("size_variation", fmt::format("size_variation must be from 0 to average_size - 1 ({})", *average - 1));
    return false;
  }
  t.delay_us = delay ? micros(*delay) : 0;
  t.parameters["average_size"] = t.average_size;
  t.parameters["size_variation"] = t.size_variation;
  t.parameters["delay_ms"] = delay ? delay->count() : 0.0;
  return true;
}

bool parse_limit_data(TableReader& reader, Toxic& t) {
  auto bytes = reader.integer("bytes", true);
  if (!bytes) return false;
  if (*bytes < 0) {
    reader.error("bytes", "bytes is a count, 0 or more");
    return false;
  }
  t.bytes = static_cast<uint64_t>(*bytes);
  t.parameters["bytes"] = t.bytes;
  return true;
}

}  // namespace

const std::vector<ToxicType>& toxic_registry() {
  static const std::vector<ToxicType> table = {
      {"latency", "Holds each chunk of data back for latency ± jitter (uniform), keeping its order",
       {{"latency", "duration", "", "added delay, e.g. \"200ms\""},
        {"jitter", "duration", "0", "spread, uniform in [-jitter, +jitter]"}},
       parse_latency},
      {"bandwidth", "Paces data to a rate",
       {{"rate", "string", "", "\"512kbit\", \"1MB\" (per second; bit, kbit, mbit, gbit, B, kB, KiB, MB, MiB, GB)"}},
       parse_bandwidth},
      {"slow_close", "Passes data on, but passes the close (FIN) on only after a delay",
       {{"delay", "duration", "", "how long the close is held back"}},
       parse_slow_close},
      {"timeout", "Drops all data; closes the connection after `after` (never when 0)",
       {{"after", "duration", "0 (never)", "from the connection's start"}},
       parse_timeout},
      {"reset_peer", "Resets the connection (RST to both ends: ECONNRESET) after `after`",
       {{"after", "duration", "0 (at once)", "from the connection's start"}},
       parse_reset_peer},
      {"slicer", "Splits data into small chunks with a delay between them",
       {{"average_size", "integer", "", "bytes per chunk on average"},
        {"size_variation", "integer", "0", "chunks vary by up to this many bytes"},
        {"delay", "duration", "0", "between chunks"}},
       parse_slicer},
      {"limit_data", "Closes the connection once this many bytes went through in its direction",
       {{"bytes", "integer", "", "bytes passed before the close"}},
       parse_limit_data},
  };
  return table;
}

const ToxicType* find_toxic_type(const std::string& name) {
  for (const auto& t : toxic_registry())
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<ParamDoc> toxic_common_params() {
  return {{"direction", "string", "\"downstream\"", "\"downstream\" (server to client), \"upstream\" or \"both\""},
          {"toxicity", "ratio", "1.0", "share of connections the toxic applies to"}};
}

bool parse_toxic(TableReader& reader, const std::string& type_key, Toxic& toxic) {
  std::optional<std::string> name = toxic.type;
  if (toxic.type.empty()) name = reader.string(type_key, true);
  if (!name) return false;
  const ToxicType* type = find_toxic_type(*name);
  if (!type) {
    std::vector<std::string> names;
    for (const auto& t : toxic_registry()) names.push_back(t.name);
    reader.error(type_key, fmt::format("'{}' is not a toxic: use one of {}", *name, fmt::join(names, ", ")));
    return false;
  }
  toxic.type = *name;
  bool ok = true;
  std::string direction = reader.string("direction").value_or("downstream");
  toxic.upstream = direction == "upstream" || direction == "both";
  toxic.downstream = direction == "downstream" || direction == "both";
  if (!toxic.upstream && !toxic.downstream) {
    reader.error("direction", fmt::format("'{}' is not a direction: use \"downstream\" (server to client), "
                                          "\"upstream\" (client to server) or \"both\"",
                                          direction));
    ok = false;
  }
  if (auto p = reader.number("toxicity")) {
    if (*p < 0 || *p > 1) {
      reader.error("toxicity", fmt::format("{} is not a ratio: use a number from 0 to 1 (0.3 for 30% of connections)", *p));
      ok = false;
    }
    toxic.toxicity = *p;
  }
  if (!type->parse(reader, toxic)) ok = false;
  toxic.parameters["toxic"] = toxic.type;
  toxic.parameters["direction"] = direction;
  toxic.parameters["toxicity"] = toxic.toxicity;
  return ok;
}

// ---------------------------------------------------------------------------------------------
// The loop

namespace {

using Clock = std::chrono::steady_clock;
int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}
constexpr int64_t kNever = INT64_MAX;

// Data waiting in a pipe to go out at `due`.
struct Segment {
  size_t bytes;
  int64_t due;
};

// What the toxics a connection drew do to one direction.
struct Effects {
  int64_t latency_us = 0, jitter_us = 0;
  double rate = 0;             // 0: unlimited
  int64_t close_delay_us = 0;  // slow_close
  bool discard = false;        // timeout
  int64_t slice_average = 0, slice_variation = 0, slice_delay_us = 0;
  uint64_t limit = UINT64_MAX;
};

// A pipe holding data back. `sealed`: it ran out of slots before its bytes (small TCP segments take a slot
// each), so nothing more goes in; it is dropped once drained.
struct HeldPipe {
  Fd read, write;
  size_t buffered = 0, capacity = 0;
  bool sealed = false;
  bool full() const { return sealed || buffered >= capacity; }
};

// One direction of a connection: `from` -> pipes -> `to`. Data goes into the last pipe and out of the first;
// a buffer larger than the host's pipe size limit (fs.pipe-max-size) is a chain of pipes.
struct Flow {
  int from = -1, to = -1;
  std::vector<HeldPipe> pipes;  // a few at most: a vector is lighter than a deque per connection
  size_t budget = 0, buffered = 0;  // budget: the most this direction may hold back
  size_t max_pipes = 0;             // set with the first pipe
  std::deque<Segment> queue;
  int64_t last_due = 0, rate_free = 0;
  bool eof = false, shut = false, pipe_full = false, write_blocked = false;
  int64_t eof_due = kNever;
  uint64_t forwarded = 0;
  Effects effects;
  bool wants_read() const { return !eof && !pipe_full && buffered < budget; }
};

// The largest pipe this process may make: the buffer it was asked for, or fs.pipe-max-size without
// CAP_SYS_RESOURCE. Learned from the first refusal.
std::atomic<size_t> g_pipe_limit{SIZE_MAX};

// A new pipe of up to `wanted` bytes; false when the process is out of descriptors.
bool add_pipe(Flow& f, size_t wanted) {
  if (f.max_pipes > 0 && f.pipes.size() >= f.max_pipes) return false;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  HeldPipe pipe;
  pipe.read = Fd(fds[0]);
  pipe.write = Fd(fds[1]);
  size_t size = std::min(wanted, g_pipe_limit.load());
  int got = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(size));
  if (got < 0 && errno == EPERM) {
    std::ifstream max_size("/proc/sys/fs/pipe-max-size");
    size_t limit = 0;
    if (max_size >> limit && limit > 0 && limit < size) {
      g_pipe_limit = limit;
      got = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(limit));
    }
  }
  pipe.capacity = static_cast<size_t>(got > 0 ? got : fcntl(fds[1], F_GETPIPE_SZ));
  if (f.max_pipes == 0) {
    // Small segments take a slot each and seal a pipe early: allow twice the pipes the budget needs at full
    // pipes, and never fewer than kMaxPipesPerFlow.
    size_t needed = (f.budget + pipe.capacity - 1) / pipe.capacity;
    f.max_pipes = std::max(ToxicProxy::kMaxPipesPerFlow, 2 * needed);
  }
  f.pipes.push_back(std::move(pipe));
  return true;
}

// What the toxics a connection drew do to one of its directions.
Effects effects_for(bool upstream, const std::vector<const Toxic*>& drawn) {
  Effects e;
  for (const Toxic* t : drawn) {
    if (!(upstream ? t->upstream : t->downstream)) continue;
    if (t->type == "latency") {
      e.latency_us += t->latency_us;
      e.jitter_us += t->jitter_us;
    } else if (t->type == "bandwidth") {
      e.rate = e.rate == 0 ? t->rate : std::min(e.rate, t->rate);
    } else if (t->type == "slow_close") {
      e.close_delay_us += t->delay_us;
    } else if (t->type == "timeout") {
      e.discard = true;
    } else if (t->type == "slicer") {
      e.slice_average = t->average_size;
      e.slice_variation = t->size_variation;
      e.slice_delay_us = t->delay_us;
    } else if (t->type == "limit_data") {
      e.limit = std::min<uint64_t>(e.limit, t->bytes);
    }
  }
  return e;
}

struct Connection {
  uint64_t id = 0;
  Fd client, upstream;
  bool connecting = true;
  Flow up, down;  // up: client -> server
  int64_t reset_at = kNever, close_at = kNever;
  uint32_t client_events = 0, upstream_events = 0;
  bool client_registered = false, upstream_registered = false;
};

enum Role : uint64_t { kClientFd = 0, kUpstreamFd = 1 };
constexpr uint64_t kListener4 = ~0ull, kListener6 = ~0ull - 1, kWake = ~0ull - 2;

Result<Fd> make_listener(int family) {
  Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail(fmt::format("cannot make a socket: {}", std::strerror(errno)));
  int one = 1;
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) return fail(fmt::format("cannot listen on loopback: {}", std::strerror(errno)));
  if (listen(fd.get(), SOMAXCONN) != 0) return fail(fmt::format("cannot listen: {}", std::strerror(errno)));
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return a.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port)
                                : ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
}

// Proves that the namespace's loopback carries traffic: a steered client would otherwise fail to connect.
Result<void> check_loopback(uint16_t port) {
  Fd probe(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return fail(fmt::format("the loopback interface of the target's network namespace does not carry traffic ({}); "
                            "bring it up (ip link set lo up) so steered connections can reach rebound",
                            std::strerror(errno)));
  return {};
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with RST instead of FIN: the peer's next read or write fails with ECONNRESET.
void reset_socket(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace

struct ToxicProxy::Loop {
  std::vector<Toxic> toxics;
  size_t buffer_bytes = kDefaultBuffer;
  Fd epoll, wake, listener4, listener6;
  Fd origins;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections;
  ProxyTimers timers;
  uint64_t next_id = 1;
  std::mt19937_64 random{std::random_device{}()};
  std::atomic<bool> stopping{false}, toxics_ended{false};
  bool toxics_cleared = false;
  std::atomic<size_t> timer_count{0};
  bool precise_wait = true;  // epoll_pwait2 (nanosecond timeouts) until the kernel says it has none

  mutable std::mutex stats_mutex;
  ProxyStats stats;

  void run();
  void accept_from(int listener, int family);
  void open_connection(Fd client, const netfault_origin& origin);
  void service(Connection& c);
  // False once the connection is gone.
  bool pump(Connection& c, Flow& f, int64_t now);
  void enqueue(Flow& f, size_t bytes, int64_t now);
  void update_interest(Connection& c);
  void schedule(Connection& c);
  void close_connection(Connection& c, bool reset);
  void clear_toxics();
  void count(const std::function<void(ProxyStats&)>& change) {
    std::lock_guard lock(stats_mutex);
    change(stats);
  }
};

Result<std::unique_ptr<ToxicProxy>> ToxicProxy::start(std::vector<Toxic> toxics, int origins_map_fd,
                                                       pid_t netns_pid, size_t buffer_bytes) {
  std::unique_ptr<ToxicProxy> proxy(new ToxicProxy());
  proxy->loop_ = std::make_unique<Loop>();
  Loop& loop = *proxy->loop_;
  loop.toxics = std::move(toxics);
  loop.buffer_bytes = buffer_bytes;
  loop.origins = Fd(fcntl(origins_map_fd, F_DUPFD_CLOEXEC, 0));
  if (!loop.origins) return fail(fmt::format("cannot keep the steering map: {}", std::strerror(errno)));
  // Each connection holds six descriptors: allow as many as the hard limit lets.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::promise<Result<void>> started;
  auto ready = started.get_future();
  proxy->thread_ = std::thread([&loop, &started, netns_pid, p = proxy.get()] {
    auto setup = [&]() -> Result<void> {
      if (netns_pid > 0) {
        // The listener must be where the target's connects happen: its own network namespace.
        Fd ns(open(fmt::format("/proc/{}/ns/net", netns_pid).c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) return fail(fmt::format("cannot open the network namespace of pid {}: {}", netns_pid, std::strerror(errno)));
        if (setns(ns.get(), CLONE_NEWNET) != 0)
          return fail(fmt::format("cannot enter the network namespace of pid {}: {}", netns_pid, std::strerror(errno)));
      }
      auto l4 = make_listener(AF_INET);
      if (!l4) return l4.error();
      loop.listener4 = std::move(*l4);
      p->port4_ = local_port(loop.listener4.get());
      if (auto l6 = make_listener(AF_INET6)) {
        loop.listener6 = std::move(*l6);
        p->port6_ = local_port(loop.listener6.get());
      } else {
        spdlog::debug("proxy: no IPv6 loopback in the target's namespace ({}); IPv6 connects are not steered",
                      l6.error().message);
      }
      uint64_t cookie = 0;
      socklen_t len = sizeof cookie;
      if (getsockopt(loop.listener4.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
        return fail(fmt::format("cannot read the network namespace's cookie: {}", std::strerror(errno)));
      p->netns_cookie_ = cookie;
      if (auto r = check_loopback(p->port4_); !r) return r;
      // The check's connection waits in the backlog: drop it.
      Fd(accept4(loop.listener4.get(), nullptr, nullptr, SOCK_CLOEXEC));
      loop.epoll = Fd(epoll_create1(EPOLL_CLOEXEC));
      loop.wake = Fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      if (!loop.epoll || !loop.wake) return fail(fmt::format("cannot make the proxy's event loop: {}", std::strerror(errno)));
      for (auto [fd, tag] : {std::pair{loop.listener4.get(), kListener4}, std::pair{loop.listener6.get(), kListener6},
                             std::pair{loop.wake.get(), kWake}}) {
        if (fd < 0) continue;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = tag;
        epoll_ctl(loop.epoll.get(), EPOLL_CTL_ADD, fd, &ev);
      }
      return {};
    };
    auto r = setup();
    bool ok = r.ok();
    started.set_value(std::move(r));
    if (ok) loop.run();
  });
  auto result = ready.get();
  if (!result) {
    proxy->thread_.join();
    return result.error();
  }
  return proxy;
}

ToxicProxy::~ToxicProxy() {
  if (!loop_) return;
  loop_->stopping = true;
  if (loop_->wake) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(loop_->wake.get(), &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

void ToxicProxy::end_toxics() {
  loop_->toxics_ended = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = write(loop_->wake.get(), &one, sizeof one);
}

size_t ToxicProxy::timer_entries() const { return loop_->timer_count; }

ProxyStats ToxicProxy::stats() const {
  std::lock_guard lock(loop_->stats_mutex);
  return loop_->stats;
}

void ToxicProxy::Loop::run() {
  std::vector<epoll_event> events(256);
  while (!stopping) {
    if (toxics_ended && !toxics_cleared) clear_toxics();
    int64_t now = now_us();
    while (auto id = timers.pop_due(now))
      if (auto it = connections.find(*id); it != connections.end()) service(*it->second);
    timer_count = timers.size();
    timespec timeout{1, 0};
    if (timers.next() != kNever) {
      int64_t wait = std::max<int64_t>(timers.next() - now_us(), 0);
      timeout = {static_cast<time_t>(wait / 1'000'000), static_cast<long>((wait % 1'000'000) * 1000)};
    }
    int n = -1;
    if (precise_wait) {
      n = epoll_pwait2(epoll.get(), events.data(), static_cast<int>(events.size()), &timeout, nullptr);
      if (n < 0 && errno == ENOSYS) precise_wait = false;  // kernels before 5.11: millisecond waits
    }
    if (!precise_wait) {
      int64_t wait_ms = (static_cast<int64_t>(timeout.tv_sec) * 1'000'000'000 + timeout.tv_nsec + 999'999) / 1'000'000;
      n = epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), static_cast<int>(wait_ms));
    }
    if (n < 0 && errno != EINTR) {
      spdlog::error("proxy: epoll_pwait2: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWake) {
        uint64_t value;
        [[maybe_unused]] auto r = read(wake.get(), &value, sizeof value);
      } else if (tag == kListener4) {
        accept_from(listener4.get(), AF_INET);
      } else if (tag == kListener6) {
        accept_from(listener6.get(), AF_INET6);
      } else {
        auto it = connections.find(tag >> 1);
        if (it == connections.end()) continue;
        Connection& c = *it->second;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          // Deregister a hung-up socket we do not read now, or it would wake the loop until we do.
          bool upstream = tag & 1;
          int fd = upstream ? c.upstream.get() : c.client.get();
          epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
          (upstream ? c.upstream_registered : c.client_registered) = false;
          (upstream ? c.upstream_events : c.client_events) = 0;
        }
        service(c);
      }
    }
  }
  // The proxy ends with its experiment: a connection that still holds data the peer will never get is reset,
  // so neither end mistakes the close for the end of the data; the others get a plain close.
  size_t reset = 0;
  for (auto& [id, c] : connections) {
    bool holds = c->up.buffered > 0 || c->down.buffered > 0;
    reset += holds;
    if (holds) count([](ProxyStats& s) { ++s.resets; });
    close_connection(*c, holds);
  }
  if (!connections.empty())
    spdlog::info("proxy: closed {} connection(s) at the end of the experiment, {} of them reset (they held data)",
                 connections.size(), reset);
  connections.clear();
  timer_count = 0;
}

void ToxicProxy::Loop::accept_from(int listener, int family) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    Fd client(accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;
    netfault_steer_key key{};
    key.family = family == AF_INET ? 4 : 6;
    key.port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&peer)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&peer)->sin6_port);
    netfault_origin origin{};
    if (bpf_map_lookup_elem(origins.get(), &key, &origin) != 0) {
      count([](ProxyStats& s) { ++s.unknown_origin; });
      reset_socket(client.get());
      continue;
    }
    bpf_map_delete_elem(origins.get(), &key);
    open_connection(std::move(client), origin);
  }
}

void ToxicProxy::Loop::open_connection(Fd client, const netfault_origin& origin) {
  auto c = std::make_unique<Connection>();
  c->id = next_id++;
  c->client = std::move(client);
  int family = origin.family == 6 ? AF_INET6 : AF_INET;
  c->upstream = Fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  auto give_up = [&] {
    reset_socket(c->client.get());
    count([](ProxyStats& s) { ++s.upstream_failures; });
  };
  if (!c->upstream) return give_up();
  set_nodelay(c->client.get());
  set_nodelay(c->upstream.get());
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(origin.port));
    std::memcpy(&a.sin_addr, origin.addr, 4);
    rc = connect(c->upstream.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(origin.port));
    std::memcpy(&a.sin6_addr, origin.addr, 16);
    rc = connect(c->upstream.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 && errno != EINPROGRESS) return give_up();
  for (Flow* f : {&c->up, &c->down}) {
    f->budget = buffer_bytes;
    if (!add_pipe(*f, buffer_bytes)) return give_up();
  }
  c->up.from = c->client.get();
  c->up.to = c->upstream.get();
  c->down.from = c->upstream.get();
  c->down.to = c->client.get();
  // Each toxic is drawn once per connection, with its toxicity.
  std::vector<const Toxic*> drawn;
  if (!toxics_ended) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (const auto& t : toxics)
      if (t.toxicity >= 1.0 || unit(random) < t.toxicity) drawn.push_back(&t);
  }
  int64_t now = now_us();
  c->up.effects = effects_for(true, drawn);
  c->down.effects = effects_for(false, drawn);
  for (const Toxic* t : drawn) {
    if (t->type == "reset_peer") c->reset_at = std::min(c->reset_at, now + t->after_us);
    if (t->type == "timeout" && t->after_us > 0) c->close_at = std::min(c->close_at, now + t->after_us);
  }
  count([&](ProxyStats& s) {
    ++s.connections;
    ++s.open;
    if (!drawn.empty()) ++s.toxic_connections;
  });
  Connection& ref = *c;
  connections.emplace(c->id, std::move(c));
  service(ref);
}


// Splits what just arrived into segments and gives each the time it may leave: latency and jitter from
// its arrival, slicer delays between chunks, bandwidth pacing, and never before the segment ahead of it.
void ToxicProxy::Loop::enqueue(Flow& f, size_t bytes, int64_t now) {
  const Effects& e = f.effects;
  size_t piece_limit = bytes;
  if (e.rate > 0) piece_limit = std::max<size_t>(1024, static_cast<size_t>(e.rate / 100));  // 10 ms of data
  int64_t offset = e.latency_us;
  if (e.jitter_us > 0) offset += std::uniform_int_distribution<int64_t>(-e.jitter_us, e.jitter_us)(random);
  int64_t base = now + std::max<int64_t>(offset, 0);
  bool first = true;
  while (bytes > 0) {
    size_t piece = std::min(bytes, piece_limit);
    int64_t due = std::max(base, f.last_due);
    if (e.slice_average > 0) {
      int64_t size = e.slice_average;
      if (e.slice_variation > 0)
        size += std::uniform_int_distribution<int64_t>(-e.slice_variation, e.slice_variation)(random);
      piece = std::min(bytes, static_cast<size_t>(std::max<int64_t>(size, 1)));
      if (!first || !f.queue.empty()) due = std::max(due, f.last_due + e.slice_delay_us);
    }
    if (e.rate > 0) {
      due = std::max(due, f.rate_free);
      f.rate_free = due + static_cast<int64_t>(static_cast<double>(piece) * 1e6 / e.rate);
    }
    f.queue.push_back({piece, due});
    f.last_due = due;
    bytes -= piece;
    first = false;
  }
}

bool ToxicProxy::Loop::pump(Connection& c, Flow& f, int64_t now) {
  // In: from the socket into the pipe (or, under a timeout toxic, nowhere).
  while (!f.eof && !f.pipe_full) {
    ssize_t n;
    if (f.effects.discard) {
      char sink[4096];
      n = recv(f.from, sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC);
      if (n > 0) continue;
    } else {
      size_t room = f.budget - f.buffered;
      if (room == 0) break;
      if (f.pipes.empty() || f.pipes.back().full()) {
        // Every pipe as large as the budget allows (one sized to what is left would hold a segment or two),
        // and at most max_pipes of them: then reading stops until one drains, and TCP pushes back on the
        // sender. Also when the process is out of descriptors.
        if (!add_pipe(f, f.budget)) {
          f.pipe_full = true;
          break;
        }
      }
      HeldPipe& tail = f.pipes.back();
      n = splice(f.from, nullptr, tail.write.get(), nullptr, std::min(room, tail.capacity - tail.buffered),
                 SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
      if (n > 0) {
        tail.buffered += static_cast<size_t>(n);
        f.buffered += static_cast<size_t>(n);
        enqueue(f, static_cast<size_t>(n), now);
        continue;
      }
    }
    if (n == 0) {
      f.eof = true;
      // Under a timeout toxic the close does not get through either: the connection hangs until `after`.
      f.eof_due = f.effects.discard ? kNever : std::max(now, f.last_due) + f.effects.close_delay_us;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      // Either nothing to read or the last pipe ran out of slots: in the second case, seal it and go on into
      // a new one (within the budget).
      int waiting = 0;
      if (!f.effects.discard && f.pipes.back().buffered > 0 && ioctl(f.from, FIONREAD, &waiting) == 0 && waiting > 0) {
        f.pipes.back().sealed = true;
        continue;
      }
      break;
    }
    close_connection(c, true);  // the peer reset (or the socket failed): pass it on as a reset
    return false;
  }
  // Out: segments whose time has come, from the pipe into the other socket.
  f.write_blocked = false;
  while (!f.queue.empty() && f.queue.front().due <= now) {
    Segment& s = f.queue.front();
    size_t allowed = f.effects.limit == UINT64_MAX ? s.bytes : std::min<uint64_t>(s.bytes, f.effects.limit - f.forwarded);
    if (allowed == 0) break;
    HeldPipe& head = f.pipes.front();
    if (head.buffered == 0) {  // cannot happen while segments wait, but a zero-length splice would read as EOF
      if (f.pipes.size() < 2) break;
      f.pipes.erase(f.pipes.begin());
      continue;
    }
    ssize_t n = splice(head.read.get(), nullptr, f.to, nullptr, std::min(allowed, head.buffered),
                       SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
      head.buffered -= static_cast<size_t>(n);
      f.buffered -= static_cast<size_t>(n);
      f.forwarded += static_cast<uint64_t>(n);
      s.bytes -= static_cast<size_t>(n);
      if (s.bytes == 0) f.queue.pop_front();
      // A drained pipe goes, unless it is the one data flows into; then reading may go on.
      if (head.buffered == 0 && (f.pipes.size() > 1 || head.sealed)) {
        f.pipes.erase(f.pipes.begin());
        f.pipe_full = false;
      }
      if (!f.pipes.empty() && !f.pipes.back().full()) f.pipe_full = false;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      f.write_blocked = true;
      break;
    }
    close_connection(c, true);
    return false;
  }
  if (f.effects.limit != UINT64_MAX && f.forwarded >= f.effects.limit) {
    close_connection(c, false);  // limit_data: the connection ends here
    return false;
  }
  // A close goes on once the data ahead of it has left (and, under slow_close, after its delay).
  if (f.eof && !f.shut && f.queue.empty() && now >= f.eof_due) {
    shutdown(f.to, SHUT_WR);
    f.shut = true;
  }
  return true;
}

void ToxicProxy::Loop::service(Connection& c) {
  int64_t now = now_us();
  if (now >= c.reset_at) {
    count([](ProxyStats& s) { ++s.resets; });
    return close_connection(c, true);
  }
  if (now >= c.close_at) return close_connection(c, false);
  if (c.connecting) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c.upstream.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      count([](ProxyStats& s) { ++s.upstream_failures; });
      return close_connection(c, true);
    }
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (getpeername(c.upstream.get(), reinterpret_cast<sockaddr*>(&peer), &plen) == 0) c.connecting = false;
  }
  if (!c.connecting) {
    if (!pump(c, c.up, now)) return;
    if (!pump(c, c.down, now)) return;
    if (c.up.shut && c.down.shut) return close_connection(c, false);
  }
  update_interest(c);
  schedule(c);
}

void ToxicProxy::Loop::update_interest(Connection& c) {
  uint32_t client = 0, upstream = 0;
  if (c.connecting) {
    upstream = EPOLLOUT;
  } else {
    if (c.up.wants_read()) client |= EPOLLIN;
    if (c.down.wants_read()) upstream |= EPOLLIN;
    if (c.up.write_blocked) upstream |= EPOLLOUT;
    if (c.down.write_blocked) client |= EPOLLOUT;
  }
  auto apply = [&](int fd, uint32_t wanted, uint32_t& current, bool& registered, uint64_t role) {
    if (registered && wanted == current) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.u64 = (c.id << 1) | role;
    if (!registered) {
      if (wanted == 0) return;
      epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
      registered = true;
    } else {
      epoll_ctl(epoll.get(), EPOLL_CTL_MOD, fd, &ev);
    }
    current = wanted;
  };
  apply(c.client.get(), client, c.client_events, c.client_registered, kClientFd);
  apply(c.upstream.get(), upstream, c.upstream_events, c.upstream_registered, kUpstreamFd);
}

void ToxicProxy::Loop::schedule(Connection& c) {
  int64_t next = std::min(c.reset_at, c.close_at);
  for (const Flow* f : {&c.up, &c.down}) {
    if (!f->queue.empty() && !f->write_blocked) next = std::min(next, f->queue.front().due);
    if (f->eof && !f->shut && f->queue.empty()) next = std::min(next, f->eof_due);
  }
  timers.arm(c.id, next);  // replaces the deadline armed before: one entry per connection
}

void ToxicProxy::Loop::close_connection(Connection& c, bool reset) {
  if (reset) {
    reset_socket(c.client.get());
    reset_socket(c.upstream.get());
  }
  count([&](ProxyStats& s) {
    s.bytes_upstream += c.up.forwarded;
    s.bytes_downstream += c.down.forwarded;
    --s.open;
  });
  uint64_t id = c.id;
  timers.cancel(id);
  if (!stopping) connections.erase(id);  // destroys c: closes its sockets and pipes
}

void ToxicProxy::Loop::clear_toxics() {
  toxics_cleared = true;
  int64_t now = now_us();
  std::vector<Connection*> all;
  for (auto& [id, c] : connections) all.push_back(c.get());
  for (Connection* c : all) {
    c->reset_at = kNever;
    c->close_at = kNever;
    for (Flow* f : {&c->up, &c->down}) {
      f->effects = Effects{};
      for (auto& s : f->queue) s.due = std::min(s.due, now);
      f->last_due = std::min(f->last_due, now);
      f->rate_free = 0;
      if (f->eof) f->eof_due = std::min(f->eof_due, now);
    }
    service(*c);
  }
}

}  // namespace rebound
