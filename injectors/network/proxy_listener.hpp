#pragma once
// The proxy's side of the sockets: its loopback listeners in the target's network namespace, the original
// destination of a steered connection (from the steering map), and the connection there.
#include <functional>
#include <thread>
#include <cstdint>
#include <optional>
#include <sys/socket.h>
#include <sys/types.h>

#include "config/result.hpp"
#include "injectors/network/bpf_handles.hpp"
#include "netfault.h"

namespace rebound {

struct Listeners {
  Fd v4, v6;  // v6 is empty where the namespace has no IPv6 loopback
  uint16_t port4 = 0, port6 = 0;
  uint64_t netns_cookie = 0;
};

// Listens on loopback in the network namespace of `netns_pid` (0: the calling thread's own; the thread
// enters that namespace and stays there), and proves that the loopback carries traffic.
Result<Listeners> open_listeners(pid_t netns_pid);

// The epoll tags of a proxy loop's own descriptors (its connections use the other values).
inline constexpr uint64_t kListener4Tag = ~0ull, kListener6Tag = ~0ull - 1, kWakeTag = ~0ull - 2;
// Makes a proxy loop's epoll set and its wake-up eventfd, and registers the listeners and the eventfd in the set
// under the tags above. `what` names the loop in the error.
Result<void> open_proxy_events(const Listeners& listeners, Fd& epoll, Fd& wake, const char* what);

// Starts a proxy's event loop on `thread`, which enters the target's network namespace, opens the listeners there
// (open_listeners), hands them to `listening` and, when that succeeds, calls `run` until the loop stops. Returns
// once the listeners listen, or why they could not (the thread has then ended).
Result<void> start_proxy_thread(std::thread& thread, pid_t netns_pid,
                                std::function<Result<void>(Listeners&&)> listening, std::function<void()> run);

// The destination a steered client was going to, taken out of the steering map (the sock_ops program filed it
// under the client's port); nullopt when it has none.
std::optional<netfault_origin> take_origin(int origins_map, const sockaddr_storage& client, int family);

// A non-blocking connect to the original destination (in progress when it returns); empty on failure.
Fd connect_upstream(const netfault_origin& origin);

void set_nodelay(int fd);
// Makes the close send RST instead of FIN: the peer's next read or write fails with ECONNRESET.
void reset_socket(int fd);

}  // namespace rebound
