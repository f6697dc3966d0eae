#include "system/socket_table.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <map>
#include <netinet/in.h>
#include <sched.h>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "system/fd.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

std::string address_text(int family, const uint32_t* words) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, words, buf, sizeof buf);
  return buf;
}

// The identity of a network namespace (the inode of /proc/PID/ns/net); 0 when the process is gone.
uint64_t netns_id(pid_t pid) {
  struct stat st{};
  if (stat(fmt::format("/proc/{}/ns/net", pid).c_str(), &st) != 0) return 0;
  return st.st_ino;
}

// A NETLINK_SOCK_DIAG socket in the network namespace of `pid` (a socket stays in the namespace it was made
// in, so only a short-lived thread enters the namespace).
Result<Fd> diag_socket(pid_t pid) {
  Result<Fd> out = fail("not made");
  auto make = [&] {
    Fd s(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!s) out = fail_errno("cannot open a sock_diag netlink socket");
    else out = std::move(s);
  };
  if (netns_id(pid) == netns_id(getpid())) {
    make();
    return out;
  }
  Fd ns(open(fmt::format("/proc/{}/ns/net", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return fail_errno(fmt::format("cannot open the network namespace of pid {}", pid));
  std::thread inside([&] {
    if (setns(ns.get(), CLONE_NEWNET) != 0) out = fail_errno(fmt::format("cannot enter the network namespace of pid {}", pid));
    else make();
  });
  inside.join();
  return out;
}

struct DiagRequest {
  nlmsghdr header;
  inet_diag_req_v2 body;
};

SocketInfo from_message(const nlmsghdr* h, int protocol) {
  const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
  SocketInfo s;
  s.inode = msg->idiag_inode;
  s.cookie = msg->id.idiag_cookie[0] | (uint64_t{msg->id.idiag_cookie[1]} << 32);
  s.family = msg->idiag_family;
  s.protocol = protocol;
  s.state = msg->idiag_state;
  std::memcpy(s.src, msg->id.idiag_src, sizeof s.src);
  std::memcpy(s.dst, msg->id.idiag_dst, sizeof s.dst);
  s.ifindex = msg->id.idiag_if;
  s.local = address_text(s.family, s.src);
  s.remote = address_text(s.family, s.dst);
  s.local_port = ntohs(msg->id.idiag_sport);
  s.remote_port = ntohs(msg->id.idiag_dport);
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
  for (auto* a = reinterpret_cast<const rtattr*>(msg + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= sizeof(uint64_t))
      std::memcpy(&s.cgroup_id, RTA_DATA(a), sizeof(uint64_t));
  return s;
}

// Every socket of one family and protocol in the netlink socket's namespace.
Result<void> dump(int nl, int family, int protocol, std::vector<SocketInfo>& out) {
  DiagRequest req{};
  req.header.nlmsg_len = sizeof req;
  req.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.body.sdiag_family = static_cast<uint8_t>(family);
  req.body.sdiag_protocol = static_cast<uint8_t>(protocol);
  req.body.idiag_states = ~0u;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno("cannot ask sock_diag for the socket table");
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail_errno("cannot read the socket table from sock_diag");
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return {};
      if (h->nlmsg_type == NLMSG_ERROR) {
        int error = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
        if (error == ENOENT) return {};  // no diag module for this protocol: no such sockets either
        return fail_errno("sock_diag refused to list sockets", error);
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) out.push_back(from_message(h, protocol));
    }
  }
}

}  // namespace

std::string SocketInfo::describe() const {
  static const std::map<int, const char*> tcp_states = {{1, "established"}, {2, "syn-sent"},  {3, "syn-recv"},
                                                        {4, "fin-wait-1"},  {5, "fin-wait-2"}, {6, "time-wait"},
                                                        {7, "close"},       {8, "close-wait"}, {9, "last-ack"},
                                                        {10, "listen"},     {11, "closing"}};
  auto ep = [&](const std::string& a, int port) {
    return family == AF_INET6 ? fmt::format("[{}]:{}", a, port) : fmt::format("{}:{}", a, port);
  };
  std::string state_text = "unconnected";
  if (protocol == IPPROTO_TCP) state_text = tcp_states.contains(state) ? tcp_states.at(state) : "unknown";
  else if (state == 1) state_text = "connected";
  return fmt::format("{} {} -> {} {}", protocol == IPPROTO_TCP ? "tcp" : "udp", ep(local, local_port),
                     ep(remote, remote_port), state_text);
}

std::vector<uint64_t> socket_inodes(pid_t pid) {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    auto target = fs::read_symlink(entry.path(), ec).string();
    if (ec || !target.starts_with("socket:[")) continue;
    out.push_back(std::strtoull(target.c_str() + 8, nullptr, 10));
  }
  return out;
}

Result<std::vector<SocketInfo>> sockets_of(const std::vector<pid_t>& pids) {
  std::map<uint64_t, std::set<uint64_t>> inodes_by_netns;  // netns -> the inodes held there
  std::map<uint64_t, pid_t> a_pid_in;                      // netns -> one pid in it
  for (pid_t pid : pids) {
    uint64_t ns = netns_id(pid);
    if (!ns) continue;  // gone
    for (uint64_t inode : socket_inodes(pid)) inodes_by_netns[ns].insert(inode);
    a_pid_in.emplace(ns, pid);
  }
  std::vector<SocketInfo> out;
  for (const auto& [ns, inodes] : inodes_by_netns) {
    auto nl = diag_socket(a_pid_in[ns]);
    if (!nl) return nl.error();
    std::vector<SocketInfo> table;
    for (int family : {AF_INET, AF_INET6})
      for (int protocol : {IPPROTO_TCP, IPPROTO_UDP})
        if (auto r = dump(nl->get(), family, protocol, table); !r) return r.error();
    for (auto& s : table)
      if (s.inode != 0 && inodes.contains(s.inode)) {
        s.held_by = a_pid_in[ns];
        out.push_back(std::move(s));
      }
  }
  return out;
}

Result<void> destroy_socket(const SocketInfo& socket) {
  auto nl = diag_socket(socket.held_by);
  if (!nl) return nl.error();
  DiagRequest req{};
  req.header.nlmsg_len = sizeof req;
  req.header.nlmsg_type = SOCK_DESTROY;
  req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.body.sdiag_family = static_cast<uint8_t>(socket.family);
  req.body.sdiag_protocol = static_cast<uint8_t>(socket.protocol);
  req.body.idiag_states = ~0u;
  req.body.id.idiag_sport = htons(static_cast<uint16_t>(socket.local_port));
  req.body.id.idiag_dport = htons(static_cast<uint16_t>(socket.remote_port));
  std::memcpy(req.body.id.idiag_src, socket.src, sizeof socket.src);
  std::memcpy(req.body.id.idiag_dst, socket.dst, sizeof socket.dst);
  req.body.id.idiag_if = socket.ifindex;
  req.body.id.idiag_cookie[0] = static_cast<uint32_t>(socket.cookie);
  req.body.id.idiag_cookie[1] = static_cast<uint32_t>(socket.cookie >> 32);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl->get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return fail_errno(fmt::format("cannot ask sock_diag to destroy {}", socket.describe()));
  alignas(nlmsghdr) char buf[4096];
  ssize_t n;
  do n = recv(nl->get(), buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(nlmsgerr))))
    return fail_errno(fmt::format("no answer from sock_diag on destroying {}", socket.describe()));
  const auto* h = reinterpret_cast<const nlmsghdr*>(buf);
  int error = h->nlmsg_type == NLMSG_ERROR ? -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error : 0;
  if (error == ENOENT) return {};  // closed meanwhile
  if (error != 0)
    return fail_errno(fmt::format("cannot destroy {}{}", socket.describe(),
                                  error == EOPNOTSUPP ? " (the kernel lacks CONFIG_INET_DIAG_DESTROY)" : ""),
                      error);
  return {};
}

}  // namespace rebound
