#include "injectors/network/proxy_loop.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace rebound {

namespace {

int64_t now_us() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

enum Role : uint64_t { kClientFd = 0, kUpstreamFd = 1 };

}  // namespace

Result<void> ProxyLoop::prepare() { return open_proxy_events(listeners, epoll, wake, "proxy"); }

void ProxyLoop::notify() {
  uint64_t one = 1;
  if (wake) {
    [[maybe_unused]] auto n = write(wake.get(), &one, sizeof one);
  }
}

// Waits for events until the earliest deadline (one second when there is none).
int ProxyLoop::wait(std::vector<epoll_event>& events) {
  timespec timeout{1, 0};
  if (timers.next() != kNoDeadline) {
    int64_t left = std::max<int64_t>(timers.next() - now_us(), 0);
    timeout = {static_cast<time_t>(left / 1'000'000), static_cast<long>((left % 1'000'000) * 1000)};
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
  return n;
}

void ProxyLoop::run() {
  std::vector<epoll_event> events(256);
  while (!stopping) {
    if (toxics_ended && !toxics_cleared) clear_toxics();
    int64_t now = now_us();
    while (auto id = timers.pop_due(now))
      if (auto it = connections.find(*id); it != connections.end()) service(*it->second);
    timer_count = timers.size();
    int n = wait(events);
    if (n < 0 && errno != EINTR) {
      spdlog::error("proxy: epoll_pwait2: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t value;
        [[maybe_unused]] auto r = read(wake.get(), &value, sizeof value);
      } else if (tag == kListener4Tag) {
        accept_from(listeners.v4.get(), AF_INET);
      } else if (tag == kListener6Tag) {
        accept_from(listeners.v6.get(), AF_INET6);
      } else {
        auto it = connections.find(tag >> 1);
        if (it == connections.end()) continue;
        ProxyConnection& c = *it->second;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          // Deregister a hung-up socket we do not read now, or it would wake the loop until we do.
          bool upstream = tag & 1;
          epoll_ctl(epoll.get(), EPOLL_CTL_DEL, upstream ? c.upstream.get() : c.client.get(), nullptr);
          (upstream ? c.upstream_registered : c.client_registered) = false;
          (upstream ? c.upstream_events : c.client_events) = 0;
        }
        service(c);
      }
    }
  }
  close_all();
}

void ProxyLoop::accept_from(int listener, int family) {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    Fd client(accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;
    auto origin = take_origin(origins.get(), peer, family);
    if (!origin) {
      count([](ProxyStats& s) { ++s.unknown_origin; });
      reset_socket(client.get());
      continue;
    }
    open_connection(std::move(client), *origin);
  }
}

void ProxyLoop::open_connection(Fd client, const netfault_origin& origin) {
  auto c = std::make_unique<ProxyConnection>();
  c->id = next_id++;
  c->client = std::move(client);
  c->upstream = connect_upstream(origin);
  set_nodelay(c->client.get());
  if (!c->upstream || !open_flow(c->up, c->client.get(), c->upstream.get(), buffer_bytes) ||
      !open_flow(c->down, c->upstream.get(), c->client.get(), buffer_bytes)) {
    reset_socket(c->client.get());
    count([](ProxyStats& s) { ++s.upstream_failures; });
    return;
  }
  // Each toxic is drawn once per connection, with its toxicity, and shapes the directions it is declared for.
  bool drawn = false;
  ConnectionShape shape;
  if (!toxics_ended) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (const auto& t : toxics) {
      if (t.toxicity < 1.0 && unit(random) >= t.toxicity) continue;
      drawn = true;
      if (t.upstream) t.effect->shape_flow(c->up.shape);
      if (t.downstream) t.effect->shape_flow(c->down.shape);
      t.effect->shape_connection(shape);
    }
  }
  int64_t now = now_us();
  if (shape.reset_after_us != kNoDeadline) c->reset_at = now + shape.reset_after_us;
  if (shape.close_after_us != kNoDeadline) c->close_at = now + shape.close_after_us;
  count([&](ProxyStats& s) {
    ++s.connections;
    ++s.open;
    if (drawn) ++s.toxic_connections;
  });
  ProxyConnection& ref = *c;
  connections.emplace(c->id, std::move(c));
  service(ref);
}

void ProxyLoop::service(ProxyConnection& c) {
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
    for (Flow* f : {&c.up, &c.down}) {
      PumpResult r = pump(*f, now, random);
      if (r != PumpResult::ok) return close_connection(c, r == PumpResult::reset);
    }
    if (c.up.shut && c.down.shut) return close_connection(c, false);
  }
  update_interest(c);
  schedule(c);
}

void ProxyLoop::update_interest(ProxyConnection& c) {
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

void ProxyLoop::schedule(ProxyConnection& c) {
  int64_t next = std::min(c.reset_at, c.close_at);
  for (const Flow* f : {&c.up, &c.down}) {
    if (!f->queue.empty() && !f->write_blocked) next = std::min(next, f->queue.front().due);
    if (f->eof && !f->shut && f->queue.empty()) next = std::min(next, f->eof_due);
  }
  timers.arm(c.id, next);  // replaces the deadline armed before: one entry per connection
}

void ProxyLoop::close_connection(ProxyConnection& c, bool reset) {
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

// The proxy ends with its experiment: a connection that still holds data the peer will never get is reset, so
// that neither end mistakes the close for the end of the data; the others get a plain close.
void ProxyLoop::close_all() {
  size_t reset = 0;
  for (auto& [id, c] : connections) {
    bool holds = c->up.holds_data() || c->down.holds_data();
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

void ProxyLoop::clear_toxics() {
  toxics_cleared = true;
  int64_t now = now_us();
  std::vector<ProxyConnection*> all;
  for (auto& [id, c] : connections) all.push_back(c.get());
  for (ProxyConnection* c : all) {
    c->reset_at = kNoDeadline;
    c->close_at = kNoDeadline;
    for (Flow* f : {&c->up, &c->down}) {
      f->shape = FlowShape{};
      release(f->pacing, f->queue, now);
      if (f->eof) f->eof_due = std::min(f->eof_due, now);
    }
    service(*c);
  }
}

}  // namespace rebound
