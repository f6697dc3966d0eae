#pragma once
// rebound's HTTP proxy for steered connections: one epoll loop in one thread, like the TCP proxy
// (toxic_proxy.hpp), but each connection's bytes go through an HttpExchange (framing and the rules' actions)
// instead of being spliced. Listeners, origins and upstream connects are the TCP proxy's (proxy_listener).
#include <memory>
#include <thread>
#include <vector>

#include "config/result.hpp"
#include "injectors/network/http/http_exchange.hpp"

namespace rebound {

struct HttpProxyLoop;

class HttpProxy {
 public:
  // Listens on loopback in the network namespace of `netns_pid` (0: rebound's own) and starts the loop.
  // `origins` is the steering map (a duplicate of the descriptor is kept).
  static Result<std::unique_ptr<HttpProxy>> start(const std::vector<HttpRule>& rules, int origins_map_fd,
                                                  pid_t netns_pid);
  // Stops the loop and closes every connection still open: with a reset where it still holds data.
  ~HttpProxy();

  uint16_t port4() const { return port4_; }
  uint16_t port6() const { return port6_; }
  uint64_t netns_cookie() const { return netns_cookie_; }
  // From now on no request gets an action; delays held are released at once.
  void end_rules();
  const HttpCounters& counters() const;

  // What one connection may hold in rebound, each way, before it stops reading from the sender.
  static constexpr size_t kBufferLimit = 1 << 20;

 private:
  HttpProxy() = default;
  std::unique_ptr<HttpProxyLoop> loop_;
  std::thread thread_;
  uint16_t port4_ = 0, port6_ = 0;
  uint64_t netns_cookie_ = 0;
};

}  // namespace rebound
