#include "injectors/network/existing_connections.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <fmt/format.h>
#include <set>

#include "system/socket_table.hpp"

namespace rebound {

namespace {

constexpr size_t kListed = 8;  // connections described one by one in the step's detail

bool prefix_match(const uint32_t* net, const uint32_t* addr, unsigned prefix, int words) {
  for (int i = 0; i < words && prefix > 0; ++i) {
    unsigned bits = prefix > 32 ? 32 : prefix;
    prefix -= bits;
    uint32_t mask = bits == 32 ? 0xffffffffu : htonl(~((1u << (32 - bits)) - 1));
    if ((net[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

// The step's peers and ports against a connection's remote end, as the connect hooks match them (an
// IPv4-mapped IPv6 peer is IPv4).
bool matches(const netfault_config& config, const SocketInfo& s) {
  if (config.n_ports > 0) {
    bool found = false;
    for (unsigned i = 0; i < config.n_ports && i < NETFAULT_MAX_PORTS; ++i) found |= config.ports[i] == s.remote_port;
    if (!found) return false;
  }
  if (config.n_cidrs == 0) return true;
  uint32_t addr[4] = {};
  int family = s.family == AF_INET ? 4 : 6;
  std::memcpy(addr, s.dst, sizeof addr);
  if (family == 6 && addr[0] == 0 && addr[1] == 0 && addr[2] == htonl(0xffff)) {
    family = 4;
    addr[0] = addr[3];
  }
  for (unsigned i = 0; i < config.n_cidrs && i < NETFAULT_MAX_CIDRS; ++i) {
    const auto& c = config.cidrs[i];
    if (c.family == family && prefix_match(c.addr, addr, c.prefix, family == 4 ? 1 : 4)) return true;
  }
  return false;
}

}  // namespace

bool parse_existing_connections(TableReader& reader, ExistingConnections& out, nlohmann::json& parameters) {
  auto value = reader.string("existing");
  if (!value) return true;
  if (*value == "keep") out = ExistingConnections::keep;
  else if (*value == "reset") out = ExistingConnections::reset;
  else {
    reader.error("existing", fmt::format("'{}' is not a choice: use \"keep\" (connections open before the step go "
                                         "on without the toxics) or \"reset\" (they are reset at step start, so the "
                                         "target reconnects through the proxy)",
                                         *value));
    return false;
  }
  parameters["existing"] = *value;
  return true;
}

Result<void> handle_existing_connections(StepContext& context, ExistingConnections policy,
                                         const netfault_config& config) {
  std::vector<pid_t> pids;
  for (const auto& p : context.processes) pids.push_back(p.pid);
  auto sockets = sockets_of(pids);
  if (!sockets) return fail(fmt::format("cannot list the target's existing connections: {}", sockets.error().message));
  std::set<int> listening;  // an accepted connection has a listener's port: it is not a connect of the target
  for (const auto& s : *sockets)
    if (s.protocol == IPPROTO_TCP && s.state == 10) listening.insert(s.local_port);
  nlohmann::json described = nlohmann::json::array();
  size_t count = 0;
  std::vector<std::string> errors;
  for (const auto& s : *sockets) {
    if (!s.established_tcp() || listening.contains(s.local_port) || !matches(config, s)) continue;
    if (policy == ExistingConnections::reset) {
      if (auto r = destroy_socket(s); !r) {
        errors.push_back(r.error().message);
        continue;
      }
    }
    ++count;
    if (described.size() < kListed) described.push_back(s.describe());
  }
  if (policy == ExistingConnections::reset) {
    context.detail["existing_connections_reset"] = count;
  } else {
    context.detail["existing_connections_untouched"] = count;
    if (count > 0)
      context.detail["existing_connections_note"] =
          "connections open before the step go straight to their peers, without the toxics; existing = \"reset\" "
          "resets them at step start so the target reconnects through the proxy";
  }
  if (!described.empty()) context.detail["existing_connection_list"] = described;
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

}  // namespace rebound
