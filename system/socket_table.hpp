#pragma once
// The TCP and UDP sockets a process holds, from the kernel's own tables: /proc/PID/fd names the socket
// inodes the process holds, sock_diag (NETLINK_SOCK_DIAG, as `ss` uses) lists the sockets of the process's
// network namespace with their cookie, state, addresses and cgroup. A socket's cookie is what BPF programs
// see of it (bpf_get_socket_cookie), and its cgroup is fixed when it is created.
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"

namespace rebound {

struct SocketInfo {
  uint64_t inode = 0;
  uint64_t cookie = 0;
  uint64_t cgroup_id = 0;  // the cgroup v2 id (its directory's inode) the socket was created in; 0: unknown
  int family = 0;          // AF_INET or AF_INET6
  int protocol = 0;        // IPPROTO_TCP or IPPROTO_UDP
  int state = 0;           // TCP_ESTABLISHED (1), TCP_LISTEN (10), ... (UDP: 7 unconnected, 1 connected)
  std::string local, remote;  // "addr" (IPv6 without brackets)
  int local_port = 0, remote_port = 0;
  uint32_t src[4] = {}, dst[4] = {};  // network order, as sock_diag gives them (for SOCK_DESTROY)
  uint32_t ifindex = 0;
  pid_t held_by = 0;  // a process of sockets_of() holding it (names the network namespace it lives in)

  bool established_tcp() const { return protocol == 6 && state == 1; }
  // "tcp 10.0.0.1:5000 -> 10.0.0.2:80 established", for step details and logs.
  std::string describe() const;
};

// The socket inodes of /proc/PID/fd (a process that exited: none).
std::vector<uint64_t> socket_inodes(pid_t pid);

// The TCP and UDP sockets (IPv4 and IPv6) that the processes hold, each once (a socket shared by two of them
// too). Each process's sockets are looked up in its own network namespace.
[[nodiscard]] Result<std::vector<SocketInfo>> sockets_of(const std::vector<pid_t>& pids);

// Destroys a TCP socket as `ss -K` does (SOCK_DESTROY): its owner sees ECONNABORTED and the peer a reset.
// It is looked up in the network namespace of socket.held_by.
[[nodiscard]] Result<void> destroy_socket(const SocketInfo& socket);

}  // namespace rebound
