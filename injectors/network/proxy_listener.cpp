#include "injectors/network/proxy_listener.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <future>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace rebound {

namespace {

Result<Fd> make_listener(int family) {
  Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("cannot make a socket");
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
  if (rc != 0) return fail_errno("cannot listen on loopback");
  if (listen(fd.get(), SOMAXCONN) != 0) return fail_errno("cannot listen");
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

}  // namespace

Result<Listeners> open_listeners(pid_t netns_pid) {
  if (netns_pid > 0) {
    // The listener must be where the target's connects happen: its own network namespace.
    Fd ns(open(fmt::format("/proc/{}/ns/net", netns_pid).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return fail_errno(fmt::format("cannot open the network namespace of pid {}", netns_pid));
    if (setns(ns.get(), CLONE_NEWNET) != 0)
      return fail_errno(fmt::format("cannot enter the network namespace of pid {}", netns_pid));
  }
  Listeners l;
  auto l4 = make_listener(AF_INET);
  if (!l4) return l4.error();
  l.v4 = std::move(*l4);
  l.port4 = local_port(l.v4.get());
  if (auto l6 = make_listener(AF_INET6)) {
    l.v6 = std::move(*l6);
    l.port6 = local_port(l.v6.get());
  } else {
    spdlog::debug("proxy: no IPv6 loopback in the target's namespace ({}); IPv6 connects are not steered",
                  l6.error().message);
  }
  socklen_t len = sizeof l.netns_cookie;
  if (getsockopt(l.v4.get(), SOL_SOCKET, SO_NETNS_COOKIE, &l.netns_cookie, &len) != 0)
    return fail_errno("cannot read the network namespace's cookie");
  if (auto r = check_loopback(l.port4); !r) return r.error();
  // The check's connection waits in the backlog: drop it.
  Fd(accept4(l.v4.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return l;
}

std::optional<netfault_origin> take_origin(int origins_map, const sockaddr_storage& client, int family) {
  netfault_steer_key key{};
  key.family = family == AF_INET ? 4 : 6;
  key.port = family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(&client)->sin_port)
                               : ntohs(reinterpret_cast<const sockaddr_in6*>(&client)->sin6_port);
  netfault_origin origin{};
  if (bpf_map_lookup_elem(origins_map, &key, &origin) != 0) return std::nullopt;
  bpf_map_delete_elem(origins_map, &key);
  return origin;
}

Fd connect_upstream(const netfault_origin& origin) {
  int family = origin.family == 6 ? AF_INET6 : AF_INET;
  Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  set_nodelay(fd.get());
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(origin.port));
    std::memcpy(&a.sin_addr, origin.addr, 4);
    rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(origin.port));
    std::memcpy(&a.sin6_addr, origin.addr, 16);
    rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 && errno != EINPROGRESS) return Fd();
  return fd;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void reset_socket(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

Result<void> start_proxy_thread(std::thread& thread, pid_t netns_pid,
                                std::function<Result<void>(Listeners&&)> listening, std::function<void()> run) {
  // Each connection holds a few descriptors: allow as many as the hard limit lets.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::promise<Result<void>> started;
  auto ready = started.get_future();
  // The thread enters the target's network namespace (listeners are made there) and stays there.
  thread = std::thread([&started, netns_pid, listening = std::move(listening), run = std::move(run)] {
    auto setup = [&]() -> Result<void> {
      auto listeners = open_listeners(netns_pid);
      if (!listeners) return listeners.error();
      return listening(std::move(*listeners));
    };
    auto r = setup();
    bool ok = r.ok();
    started.set_value(std::move(r));
    if (ok) run();
  });
  auto result = ready.get();
  if (!result) thread.join();
  return result;
}

Result<void> open_proxy_events(const Listeners& listeners, Fd& epoll, Fd& wake, const char* what) {
  epoll = Fd(epoll_create1(EPOLL_CLOEXEC));
  wake = Fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll || !wake) return fail_errno(fmt::format("cannot make the {}'s event loop", what));
  for (auto [fd, tag] : {std::pair{listeners.v4.get(), kListener4Tag}, std::pair{listeners.v6.get(), kListener6Tag},
                         std::pair{wake.get(), kWakeTag}}) {
    if (fd < 0) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev);
  }
  return {};
}

}  // namespace rebound
