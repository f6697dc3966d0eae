#include "injectors/network/toxic_proxy.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>

#include "injectors/network/proxy_loop.hpp"

namespace rebound {

Result<std::unique_ptr<ToxicProxy>> ToxicProxy::start(std::vector<Toxic> toxics, int origins_map_fd,
                                                       pid_t netns_pid, size_t buffer_bytes) {
  std::unique_ptr<ToxicProxy> proxy(new ToxicProxy());
  proxy->loop_ = std::make_unique<ProxyLoop>();
  ProxyLoop& loop = *proxy->loop_;
  loop.toxics = std::move(toxics);
  loop.buffer_bytes = buffer_bytes;
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

ToxicProxy::~ToxicProxy() {
  if (!loop_) return;
  loop_->stopping = true;
  loop_->notify();
  if (thread_.joinable()) thread_.join();
}

void ToxicProxy::end_toxics() {
  loop_->toxics_ended = true;
  loop_->notify();
}

ProxyStats ToxicProxy::stats() const {
  std::lock_guard lock(loop_->stats_mutex);
  return loop_->stats;
}

size_t ToxicProxy::timer_entries() const { return loop_->timer_count; }

}  // namespace rebound
