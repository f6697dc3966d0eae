#include "system/proc_events.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

namespace rebound {

Result<ProcEvents> ProcEvents::open() {
  Fd fd(socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR));
  if (!fd) return fail_errno("cannot open the proc connector");
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = CN_IDX_PROC;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return fail_errno("cannot bind to the proc connector");
  if (!send_op(fd.get(), PROC_CN_MCAST_LISTEN)) return fail_errno("cannot listen to the proc connector");
  return ProcEvents(std::move(fd));
}

ProcEvents::~ProcEvents() {
  if (fd_) (void)send_op(fd_.get(), PROC_CN_MCAST_IGNORE);
}

// One netlink message holding a connector message holding the operation.
bool ProcEvents::send_op(int fd, int op_value) {
  const auto op = static_cast<proc_cn_mcast_op>(op_value);
  alignas(nlmsghdr) char buffer[NLMSG_SPACE(sizeof(cn_msg) + sizeof op)] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(buffer);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof op);
  header->nlmsg_type = NLMSG_DONE;
  auto* message = static_cast<cn_msg*>(NLMSG_DATA(header));
  message->id.idx = CN_IDX_PROC;
  message->id.val = CN_VAL_PROC;
  message->len = sizeof op;
  std::memcpy(reinterpret_cast<char*>(message) + sizeof(cn_msg), &op, sizeof op);
  return send(fd, buffer, header->nlmsg_len, 0) >= 0;
}

bool ProcEvents::drain() {
  bool seen = false;
  alignas(nlmsghdr) char buffer[8192];
  for (;;) {
    ssize_t n = recv(fd_.get(), buffer, sizeof buffer, 0);
    if (n < 0) return seen || errno == ENOBUFS;  // ENOBUFS: events were lost, so look anyway
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_DONE) continue;
      const auto* message = static_cast<const cn_msg*>(NLMSG_DATA(h));
      if (message->len < sizeof(proc_event)) continue;
      proc_event event;
      std::memcpy(&event, reinterpret_cast<const char*>(message) + sizeof(cn_msg), sizeof event);
      seen = seen || event.what == proc_event::PROC_EVENT_FORK || event.what == proc_event::PROC_EVENT_EXEC;
    }
  }
}

bool ProcEvents::wait(int timeout_ms) {
  pollfd p{fd_.get(), POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  return drain();
}

}  // namespace rebound
