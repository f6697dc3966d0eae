#include "injectors/network/http/http_proxy.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>

#include "injectors/network/proxy_listener.hpp"
#include "injectors/network/proxy_timers.hpp"

namespace rebound {

namespace {

int64_t now_us() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}


struct Side {  // one socket of a connection
  Fd fd;
  bool eof = false, shut = false, write_blocked = false, registered = false;
  uint32_t events = 0;
};

enum class Io { ok, reset };

}  // namespace

struct HttpConnection {
  HttpConnection(uint64_t id, const std::vector<HttpRule>& rules, HttpCounters& counters, std::mt19937_64& random)
      : id(id), exchange(rules, counters, random) {}
  uint64_t id;
  Side client, upstream;
  bool connecting = true;
  HttpExchange exchange;
  bool holds_data() const { return !exchange.to_client.empty() || !exchange.to_upstream.empty() || exchange.held(); }
};

struct HttpProxyLoop {
  explicit HttpProxyLoop(std::vector<HttpRule> r) : rules(std::move(r)), counters(rules.size()) {}
  std::vector<HttpRule> rules;
  HttpCounters counters;
  Listeners listeners;
  Fd epoll, wake, origins;
  std::unordered_map<uint64_t, std::unique_ptr<HttpConnection>> connections;
  ProxyTimers timers;
  uint64_t next_id = 1;
  std::mt19937_64 random{std::random_device{}()};
  std::atomic<bool> stopping{false}, rules_ended{false};
  bool rules_cleared = false;

  Result<void> prepare();
  void run();
  void notify() {
    uint64_t one = 1;
    if (wake) [[maybe_unused]] auto n = write(wake.get(), &one, sizeof one);
  }

 private:
  void accept_from(int listener, int family);
  void service(HttpConnection& c);
  bool wants_read(const HttpConnection& c, bool from_client) const;
  Io read_side(HttpConnection& c, bool from_client, int64_t now);
  Io write_side(Side& to, Outbound& out, int64_t now);
  void update_interest(HttpConnection& c);
  void close_connection(HttpConnection& c, bool reset);
};

Result<void> HttpProxyLoop::prepare() { return open_proxy_events(listeners, epoll, wake, "HTTP proxy"); }

void HttpProxyLoop::run() {
  std::vector<epoll_event> events(256);
  while (!stopping) {
    if (rules_ended && !rules_cleared) {
      rules_cleared = true;
      std::vector<HttpConnection*> all;
      for (auto& [id, c] : connections) all.push_back(c.get());
      for (HttpConnection* c : all) {
        c->exchange.end_rules();
        service(*c);
      }
    }
    while (auto id = timers.pop_due(now_us()))
      if (auto it = connections.find(*id); it != connections.end()) service(*it->second);
    int timeout_ms = 1000;
    if (timers.next() != ProxyTimers::kNever)
      timeout_ms = static_cast<int>(std::clamp<int64_t>((timers.next() - now_us() + 999) / 1000, 0, 1000));
    int n = epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("HTTP proxy: epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t value;
        [[maybe_unused]] auto r = read(wake.get(), &value, sizeof value);
      } else if (tag == kListener4Tag || tag == kListener6Tag) {
        const bool v4 = tag == kListener4Tag;
        accept_from(v4 ? listeners.v4.get() : listeners.v6.get(), v4 ? AF_INET : AF_INET6);
      } else if (auto it = connections.find(tag >> 1); it != connections.end()) {
        HttpConnection& c = *it->second;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          // Deregistered: a hung-up socket we do not read now would wake the loop until we do.
          Side& side = (tag & 1) ? c.upstream : c.client;
          epoll_ctl(epoll.get(), EPOLL_CTL_DEL, side.fd.get(), nullptr);
          side.registered = false;
          side.events = 0;
        }
        service(c);
      }
    }
  }
  size_t reset = 0;
  for (auto& [id, c] : connections) {
    reset += c->holds_data();
    close_connection(*c, c->holds_data());
  }
  if (!connections.empty())
    spdlog::info("HTTP proxy: closed {} connection(s) at the end of the experiment, {} of them reset (they held data)",
                 connections.size(), reset);
  connections.clear();
}

void HttpProxyLoop::accept_from(int listener, int family) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    Fd client(accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;
    auto origin = take_origin(origins.get(), peer, family);
    if (!origin) {
      ++counters.unknown_origin;
      reset_socket(client.get());
      continue;
    }
    auto c = std::make_unique<HttpConnection>(next_id++, rules, counters, random);
    c->client.fd = std::move(client);
    c->upstream.fd = connect_upstream(*origin);
    if (!c->upstream.fd) {
      reset_socket(c->client.fd.get());
      ++counters.upstream_failures;
      continue;
    }
    set_nodelay(c->client.fd.get());
    if (rules_ended) c->exchange.end_rules();
    ++counters.connections;
    ++counters.open;
    HttpConnection& ref = *c;
    connections.emplace(ref.id, std::move(c));
    service(ref);
  }
}

// While the connection holds less than its limit that way. A client's answers count too: one that pipelines
// aborted requests and reads none of rebound's answers is not read either.
bool HttpProxyLoop::wants_read(const HttpConnection& c, bool from_client) const {
  const HttpExchange& x = c.exchange;
  if (from_client)
    return !c.client.eof && x.to_upstream.size() + x.held() < HttpProxy::kBufferLimit &&
           x.to_client.size() < HttpProxy::kBufferLimit;
  return !c.upstream.eof && x.to_client.size() + x.held() < HttpProxy::kBufferLimit;
}

// Reads what the socket has, while the connection wants to.
Io HttpProxyLoop::read_side(HttpConnection& c, bool from_client, int64_t now) {
  Side& side = from_client ? c.client : c.upstream;
  char buffer[64 << 10];
  while (wants_read(c, from_client)) {
    ssize_t n = recv(side.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      std::string_view bytes(buffer, static_cast<size_t>(n));
      if (from_client) c.exchange.from_client(bytes, now);
      else c.exchange.from_upstream(bytes, now);
      if (c.exchange.reset) return Io::reset;
      continue;
    }
    if (n == 0) {
      side.eof = true;
      if (!from_client) c.exchange.upstream_closed(now);
      break;
    }
    if (errno == EAGAIN || errno == EINTR) break;
    return Io::reset;  // ECONNRESET and the like: passed on as a reset
  }
  return Io::ok;
}

Io HttpProxyLoop::write_side(Side& to, Outbound& out, int64_t now) {
  to.write_blocked = false;
  for (;;) {
    std::string_view ready = out.ready(now);
    if (ready.empty()) return Io::ok;
    ssize_t n = send(to.fd.get(), ready.data(), ready.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out.consume(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      to.write_blocked = true;
      return Io::ok;
    }
    return Io::reset;
  }
}

void HttpProxyLoop::service(HttpConnection& c) {
  int64_t now = now_us();
  if (c.connecting) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c.upstream.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      ++counters.upstream_failures;
      return close_connection(c, true);
    }
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    if (getpeername(c.upstream.fd.get(), reinterpret_cast<sockaddr*>(&peer), &plen) == 0) c.connecting = false;
  }
  HttpExchange& x = c.exchange;
  if (read_side(c, true, now) == Io::reset) return close_connection(c, true);
  if (!c.connecting) {
    if (read_side(c, false, now) == Io::reset || write_side(c.upstream, x.to_upstream, now) == Io::reset ||
        write_side(c.client, x.to_client, now) == Io::reset)
      return close_connection(c, true);
    // A close is passed on once everything before it went out.
    if (c.client.eof && !c.upstream.shut && x.to_upstream.empty() && x.held() == 0) {
      shutdown(c.upstream.fd.get(), SHUT_WR);
      c.upstream.shut = true;
    }
    if ((c.upstream.eof || x.close_client) && !c.client.shut && x.to_client.empty() && !x.synthetic_pending()) {
      shutdown(c.client.fd.get(), SHUT_WR);
      c.client.shut = true;
      if (x.close_client) return close_connection(c, false);
    }
    if (c.client.shut && c.upstream.shut) return close_connection(c, false);
  }
  update_interest(c);
  timers.arm(c.id, c.connecting ? ProxyTimers::kNever : x.next_deadline());  // connected: it services again
}

void HttpProxyLoop::update_interest(HttpConnection& c) {
  uint32_t client = 0, upstream = 0;
  if (wants_read(c, true)) client |= EPOLLIN;
  if (c.connecting) {
    upstream = EPOLLOUT;
  } else {
    if (wants_read(c, false)) upstream |= EPOLLIN;
    if (c.upstream.write_blocked) upstream |= EPOLLOUT;
    if (c.client.write_blocked) client |= EPOLLOUT;
  }
  auto apply = [&](Side& side, uint32_t wanted, uint64_t role) {
    if (side.registered && wanted == side.events) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.u64 = (c.id << 1) | role;
    if (!side.registered) {
      if (wanted == 0) return;
      epoll_ctl(epoll.get(), EPOLL_CTL_ADD, side.fd.get(), &ev);
      side.registered = true;
    } else {
      epoll_ctl(epoll.get(), EPOLL_CTL_MOD, side.fd.get(), &ev);
    }
    side.events = wanted;
  };
  apply(c.client, client, 0);
  apply(c.upstream, upstream, 1);
}

void HttpProxyLoop::close_connection(HttpConnection& c, bool reset) {
  if (reset) {
    reset_socket(c.client.fd.get());
    reset_socket(c.upstream.fd.get());
  }
  --counters.open;
  timers.cancel(c.id);
  if (!stopping) connections.erase(c.id);  // destroys c: closes its sockets
}

Result<std::unique_ptr<HttpProxy>> HttpProxy::start(const std::vector<HttpRule>& rules, int origins_map_fd,
                                                    pid_t netns_pid) {
  std::unique_ptr<HttpProxy> proxy(new HttpProxy());
  proxy->loop_ = std::make_unique<HttpProxyLoop>(rules);
  HttpProxyLoop& loop = *proxy->loop_;
  loop.origins = Fd(fcntl(origins_map_fd, F_DUPFD_CLOEXEC, 0));
  if (!loop.origins) return fail_errno("cannot keep the steering map");
  auto* p = proxy.get();
  auto listening = [&loop, p](Listeners&& listeners) {
    loop.listeners = std::move(listeners);
    p->port4_ = loop.listeners.port4;
    p->port6_ = loop.listeners.port6;
    p->netns_cookie_ = loop.listeners.netns_cookie;
    return loop.prepare();
  };
  if (auto started = start_proxy_thread(proxy->thread_, netns_pid, listening, [&loop] { loop.run(); }); !started)
    return started.error();
  return proxy;
}

HttpProxy::~HttpProxy() {
  if (!loop_) return;
  loop_->stopping = true;
  loop_->notify();
  if (thread_.joinable()) thread_.join();
}

void HttpProxy::end_rules() {
  loop_->rules_ended = true;
  loop_->notify();
}

const HttpCounters& HttpProxy::counters() const { return loop_->counters; }

}  // namespace rebound
