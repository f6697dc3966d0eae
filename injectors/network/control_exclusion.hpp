#pragma once
// Never cut the operator off (issue 16): an interface fault leaves alone every TCP connection on local port 22
// and the SSH session rebound runs in (SSH_CONNECTION), unless the step says include_control = true.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "netfault.h"

namespace rebound {

constexpr uint16_t kControlPort = 22;

// SSH_CONNECTION's "client_ip client_port server_ip server_port" as a connection seen from this host (the
// server's end local); IPv4 or IPv6 (an IPv4-mapped address counts as IPv4). nullopt when it cannot be read.
std::optional<netfault_conn> parse_ssh_connection(const std::string& text);

// Fills config's control fields (cleared with include_control) and returns what is excluded, for the step's
// detail: one line per excluded connection or port. `ssh_connection` is the environment's value, or null.
nlohmann::json exclude_control(netfault_config& config, bool include_control, const char* ssh_connection);

}  // namespace rebound
