#include "injectors/network/control_exclusion.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <fmt/format.h>
#include <sstream>

namespace rebound {

namespace {

// An address into netfault_conn's words; family 4 or 6, 0 when unreadable.
uint8_t read_address(const std::string& text, uint32_t (&out)[4]) {
  std::memset(out, 0, sizeof out);
  if (inet_pton(AF_INET, text.c_str(), out) == 1) return 4;
  in6_addr a{};
  if (inet_pton(AF_INET6, text.c_str(), &a) != 1) return 0;
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    std::memcpy(out, a.s6_addr + 12, 4);
    return 4;
  }
  std::memcpy(out, a.s6_addr, 16);
  return 6;
}

std::optional<uint16_t> read_port(const std::string& text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  int port = std::stoi(text);
  if (port < 1 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

}  // namespace

std::optional<netfault_conn> parse_ssh_connection(const std::string& text) {
  std::istringstream in(text);
  std::string client, client_port, server, server_port, extra;
  if (!(in >> client >> client_port >> server >> server_port) || (in >> extra)) return std::nullopt;
  netfault_conn c{};
  uint8_t remote = read_address(client, c.remote), local = read_address(server, c.local);
  auto rport = read_port(client_port), lport = read_port(server_port);
  if (!remote || remote != local || !rport || !lport) return std::nullopt;
  c.family = local;
  c.remote_port = *rport;
  c.local_port = *lport;
  return c;
}

nlohmann::json exclude_control(netfault_config& config, bool include_control, const char* ssh_connection) {
  config.control_port = 0;
  config.n_control = 0;
  std::memset(config.control, 0, sizeof config.control);
  nlohmann::json excluded = nlohmann::json::array();
  if (include_control) return excluded;
  config.control_port = kControlPort;
  excluded.push_back(fmt::format("every TCP connection on local port {} (both directions)", kControlPort));
  excluded.push_back("IPv6 neighbour discovery (ICMPv6 133-137), which those connections need as IPv4 ones need ARP");
  if (!ssh_connection || !*ssh_connection) return excluded;
  auto conn = parse_ssh_connection(ssh_connection);
  if (!conn) {
    excluded.push_back(fmt::format("not the SSH session: SSH_CONNECTION '{}' is not \"client_ip client_port "
                                   "server_ip server_port\"",
                                   ssh_connection));
    return excluded;
  }
  config.control[config.n_control++] = *conn;
  std::istringstream in(ssh_connection);
  std::string client, client_port, server, server_port;
  in >> client >> client_port >> server >> server_port;
  excluded.push_back(fmt::format("the SSH session from {} port {} to {} port {} (SSH_CONNECTION)", client, client_port,
                                 server, server_port));
  return excluded;
}

}  // namespace rebound
