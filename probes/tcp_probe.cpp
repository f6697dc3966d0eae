#include "probes/tcp_probe.hpp"

#include "system/fd.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rebound {

std::vector<ParamDoc> TcpProbe::params() {
  return {{"host", "string", "", "host name or IP address"}, {"port", "integer", "", "TCP port"}};
}

std::unique_ptr<Probe> TcpProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<TcpProbe>();
  probe->timeout_ = context.timeout;
  auto host = reader.string("host", true);
  auto port = reader.integer("port", true);
  if (port && (*port < 1 || *port > 65535)) {
    reader.error("port", fmt::format("{} is not a TCP port (1-65535)", *port));
    return nullptr;
  }
  if (!host || !port) return nullptr;
  probe->host_ = *host;
  probe->port_ = static_cast<int>(*port);
  return probe;
}

SampleResult TcpProbe::sample() {
  using Clock = std::chrono::steady_clock;
  auto started = Clock::now();
  SampleResult r;
  auto elapsed = [&] { return std::chrono::duration<double, std::milli>(Clock::now() - started).count(); };
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found); rc != 0) {
    r.reason = fmt::format("cannot resolve {}: {}", host_, gai_strerror(rc));
    r.latency_ms = elapsed();
    return r;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  Fd sock(socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) {
    r.reason = fmt::format("socket: {}", std::strerror(errno));
    return r;
  }
  if (connect(sock.get(), found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    r.reason = std::strerror(errno);
    r.latency_ms = elapsed();
    return r;
  }
  pollfd p{sock.get(), POLLOUT, 0};
  int remaining = static_cast<int>(timeout_.count() - elapsed());
  int ready = poll(&p, 1, std::max(remaining, 0));
  r.latency_ms = elapsed();
  if (ready == 0) {
    r.reason = fmt::format("connect timed out after {}", format_duration(timeout_));
    return r;
  }
  int error = 0;
  socklen_t len = sizeof error;
  getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0) {
    r.reason = std::strerror(error);
    return r;
  }
  r.ok = true;
  r.reason = "connected";
  return r;
}

nlohmann::json TcpProbe::describe() const {
  return {{"host", host_}, {"port", port_}, {"timeout_ms", timeout_.count()}};
}

}  // namespace rebound
