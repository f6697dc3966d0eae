#pragma once
// The proxy's event loop: one thread, epoll over its listeners and every connection's two sockets, and one
// deadline per connection for data held back.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <sys/epoll.h>
#include <unordered_map>
#include <vector>

#include "injectors/network/proxy_flow.hpp"
#include "injectors/network/proxy_listener.hpp"
#include "injectors/network/proxy_timers.hpp"
#include "injectors/network/toxic_proxy.hpp"

namespace rebound {

struct ProxyConnection {
  uint64_t id = 0;
  Fd client, upstream;
  bool connecting = true;
  Flow up, down;  // up: client -> server
  int64_t reset_at = kNoDeadline, close_at = kNoDeadline;
  uint32_t client_events = 0, upstream_events = 0;
  bool client_registered = false, upstream_registered = false;
};

struct ProxyLoop {
  std::vector<Toxic> toxics;
  size_t buffer_bytes = ToxicProxy::kDefaultBuffer;
  Listeners listeners;
  Fd epoll, wake, origins;
  std::unordered_map<uint64_t, std::unique_ptr<ProxyConnection>> connections;
  ProxyTimers timers;
  uint64_t next_id = 1;
  std::mt19937_64 random{std::random_device{}()};
  std::atomic<bool> stopping{false}, toxics_ended{false};
  std::atomic<size_t> timer_count{0};
  bool toxics_cleared = false;
  bool precise_wait = true;  // epoll_pwait2 (nanosecond timeouts) until the kernel says it has none

  mutable std::mutex stats_mutex;
  ProxyStats stats;

  // Registers the listeners and the wake-up descriptor.
  Result<void> prepare();
  // Until `stopping`; then closes every connection (reset where it holds data).
  void run();
  void notify();  // wakes run() from another thread

 private:
  int wait(std::vector<epoll_event>& events);
  void accept_from(int listener, int family);
  void open_connection(Fd client, const netfault_origin& origin);
  void service(ProxyConnection& c);
  void update_interest(ProxyConnection& c);
  void schedule(ProxyConnection& c);
  void close_connection(ProxyConnection& c, bool reset);
  void close_all();
  void clear_toxics();
  void count(const std::function<void(ProxyStats&)>& change) {
    std::lock_guard lock(stats_mutex);
    change(stats);
  }
};

}  // namespace rebound
