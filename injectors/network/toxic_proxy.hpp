#pragma once
// rebound's TCP proxy for steered connections: one epoll loop in one thread (proxy_loop), data moved with
// splice() through bounded pipes per direction (proxy_flow, no copy into rebound), held back as the toxics a
// connection drew say (toxics/, proxy_pacing).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/result.hpp"
#include "injectors/network/toxics/toxic.hpp"

namespace rebound {

struct ProxyStats {
  uint64_t connections = 0;       // accepted from steered clients
  uint64_t toxic_connections = 0; // that drew at least one toxic
  uint64_t unknown_origin = 0;    // accepted without a recorded destination (reset at once)
  uint64_t upstream_failures = 0; // the original destination refused or failed
  uint64_t resets = 0;            // connections rebound reset (reset_peer, errors, data held at the end)
  uint64_t bytes_upstream = 0;
  uint64_t bytes_downstream = 0;
  uint64_t open = 0;              // still open
};

struct ProxyLoop;

class ToxicProxy {
 public:
  // Listens on loopback (IPv4 and, where the namespace has it, IPv6) in the network namespace of
  // `netns_pid` (0: rebound's own), and starts the loop. `origins` is the steering map (rebound keeps a
  // duplicate of the descriptor, so the proxy outlives the programs).
  // `buffer_bytes`: what each direction of a connection may hold back (a pipe's capacity): the memory bound.
  static Result<std::unique_ptr<ToxicProxy>> start(std::vector<Toxic> toxics, int origins_map_fd, pid_t netns_pid,
                                                   size_t buffer_bytes = kDefaultBuffer);
  // Stops the loop and closes every connection still open: with a reset where it still holds data.
  ~ToxicProxy();

  uint16_t port4() const { return port4_; }
  uint16_t port6() const { return port6_; }
  uint64_t netns_cookie() const { return netns_cookie_; }
  // From now on no connection gets a toxic; data held back is released at once.
  void end_toxics();
  ProxyStats stats() const;
  // Deadlines the loop keeps (for tests: at most one per connection).
  size_t timer_entries() const;

  static constexpr size_t kDefaultBuffer = 1 << 20;
  static constexpr size_t kMinBuffer = 64 << 10;
  static constexpr size_t kMaxBuffer = 64 << 20;
  // Pipes one direction of a connection may hold at once (two descriptors each), unless its buffer needs
  // more at full pipes (twice that many then).
  static constexpr size_t kMaxPipesPerFlow = 8;

 private:
  ToxicProxy() = default;
  std::unique_ptr<ProxyLoop> loop_;
  std::thread thread_;
  uint16_t port4_ = 0, port6_ = 0;
  uint64_t netns_cookie_ = 0;
};

}  // namespace rebound
