#include "injectors/network/network_filters.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <fmt/format.h>
#include <netinet/in.h>

#include "config/byte_size.hpp"

namespace rebound {

namespace {

std::optional<netfault_cidr> parse_cidr(const std::string& text) {
  netfault_cidr c{};
  auto slash = text.find('/');
  std::string address = text.substr(0, slash);
  int max_prefix = 0;
  if (inet_pton(AF_INET, address.c_str(), c.addr) == 1) {
    c.family = 4;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), c.addr) == 1) {
    c.family = 6;
    max_prefix = 128;
  } else {
    return std::nullopt;
  }
  int prefix = max_prefix;
  if (slash != std::string::npos) {
    try {
      size_t used = 0;
      prefix = std::stoi(text.substr(slash + 1), &used);
      if (used != text.size() - slash - 1) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
  }
  if (prefix < 0 || prefix > max_prefix) return std::nullopt;
  c.prefix = static_cast<__u8>(prefix);
  return c;
}

}  // namespace

std::optional<double> parse_size(const std::string& text, bool& bits) {
  if (auto b = parse_bit_size(text)) {
    bits = true;
    return *b;
  }
  bits = false;
  if (auto bytes = parse_byte_size(text)) return static_cast<double>(*bytes);
  return std::nullopt;
}

std::optional<double> read_rate(TableReader& reader, const std::string& key) {
  auto text = reader.string(key, true);
  if (!text) return std::nullopt;
  bool bits = false;
  auto rate = parse_size(*text, bits);
  if (!rate || *rate <= 0) {
    reader.error(key, fmt::format("'{}' is not a rate: write a number and a unit such as \"10mbit\", \"512kbit\" or "
                                  "\"2MB\" (bit, kbit, mbit, gbit, B, kB, KiB, MB, MiB, GB per second)",
                                  *text));
    return std::nullopt;
  }
  return bits ? *rate / 8 : *rate;
}

bool parse_probability(TableReader& reader, bool required, netfault_config& config, nlohmann::json& parameters) {
  auto p = reader.number("probability", required);
  if (!p) {
    config.probability = 0xffffffffu;
    return !required;
  }
  if (*p < 0 || *p > 1) {
    reader.error("probability", fmt::format("{} is not a probability: use a number from 0 to 1 (0.3 for 30%)", *p));
    return false;
  }
  config.probability = *p >= 1 ? 0xffffffffu : static_cast<uint32_t>(*p * 4294967296.0);
  parameters["probability"] = *p;
  return true;
}

bool NetworkFilters::parse(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys,
                           netfault_config& config, nlohmann::json& parameters) {
  bool ok = parse_scope(reader, context, keys);
  config.directions = NETFAULT_DIR_INGRESS | NETFAULT_DIR_EGRESS;
  if (keys.direction && !parse_direction(reader, config)) ok = false;
  if (!parse_peers(reader, config)) ok = false;
  if (!parse_ports(reader, config)) ok = false;
  if (!parse_protocol(reader, config)) ok = false;
  if (keys.probability && !parse_probability(reader, keys.probability_required, config, parameters)) ok = false;
  if (!keys.probability) config.probability = 0xffffffffu;
  return ok;
}

bool NetworkFilters::parse_scope(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys) {
  bool ok = true;
  if (auto iface = reader.string("interface")) interface = *iface;
  if (auto ns = reader.string("netns")) netns = *ns;
  if (context.target) target = *context.target;
  if (!netns.empty() && interface.empty()) {
    reader.error("netns", "netns goes with interface: name the interface inside that namespace");
    ok = false;
  }
  if (target && !interface.empty()) {
    reader.error("interface", "give either target (the process tree's cgroup) or interface, not both");
    ok = false;
  } else if (!target && interface.empty()) {
    reader.error("target", keys.interface_scope
                               ? "missing required key: a network fault acts on a target's cgroup (target = \"...\") "
                                 "or on an interface (interface = \"eth0\")"
                               : "missing required key: this fault acts on a target's cgroup; add target = \"...\"");
    ok = false;
  } else if (!interface.empty() && !keys.interface_scope) {
    reader.error("interface", fmt::format("this fault cannot act on an interface ({}); use target = \"...\"",
                                          keys.cgroup_only_reason));
    ok = false;
  } else if (target && !keys.cgroup_scope) {
    reader.error("target", fmt::format("this fault cannot act on a cgroup ({}); use interface = \"...\"",
                                       keys.interface_only_reason));
    ok = false;
  }
  if (reader.has("include_control")) {
    auto include = reader.boolean("include_control");
    if (include && interface.empty()) {
      reader.error("include_control", "include_control goes with interface = \"...\": a fault on a target's cgroup "
                                      "acts on that target's connections only, never on the operator's; remove it");
      ok = false;
    } else if (!include) {
      ok = false;  // the reader said why
    } else {
      include_control = *include;
    }
  }
  return ok;
}

bool NetworkFilters::parse_direction(TableReader& reader, netfault_config& config) {
  auto dir = reader.string("direction");
  if (!dir) return true;
  direction = *dir;
  if (*dir == "ingress") config.directions = NETFAULT_DIR_INGRESS;
  else if (*dir == "egress") config.directions = NETFAULT_DIR_EGRESS;
  else if (*dir != "both") {
    reader.error("direction", fmt::format("'{}' is not a direction: use \"ingress\", \"egress\" or \"both\"", *dir));
    return false;
  }
  return true;
}

bool NetworkFilters::parse_peers(TableReader& reader, netfault_config& config) {
  auto list = reader.strings("peers");
  if (!list) return true;
  bool ok = true;
  if (list->size() > NETFAULT_MAX_CIDRS) {
    reader.error("peers", fmt::format("at most {} peers per step", NETFAULT_MAX_CIDRS));
    ok = false;
  }
  for (const auto& p : *list) {
    auto cidr = parse_cidr(p);
    if (!cidr) {
      reader.error("peers", fmt::format("'{}' is not an IP address or CIDR such as \"10.0.0.0/8\" or \"fd00::/64\"", p));
      ok = false;
    } else if (config.n_cidrs < NETFAULT_MAX_CIDRS) {
      config.cidrs[config.n_cidrs++] = *cidr;
    }
  }
  peers = *list;
  return ok;
}

bool NetworkFilters::parse_ports(TableReader& reader, netfault_config& config) {
  auto list = reader.integers("ports");
  if (!list) return true;
  bool ok = true;
  if (list->size() > NETFAULT_MAX_PORTS) {
    reader.error("ports", fmt::format("at most {} ports per step", NETFAULT_MAX_PORTS));
    ok = false;
  }
  for (auto port : *list) {
    if (port < 1 || port > 65535) {
      reader.error("ports", fmt::format("{} is not a port (1-65535)", port));
      ok = false;
    } else if (config.n_ports < NETFAULT_MAX_PORTS) {
      config.ports[config.n_ports++] = static_cast<__u16>(port);
    }
  }
  ports = *list;
  return ok;
}

bool NetworkFilters::parse_protocol(TableReader& reader, netfault_config& config) {
  auto proto = reader.string("protocol");
  if (!proto) return true;
  protocol = *proto;
  if (*proto == "tcp") config.protocol = IPPROTO_TCP;
  else if (*proto == "udp") config.protocol = IPPROTO_UDP;
  else if (*proto == "icmp") config.protocol = IPPROTO_ICMP;
  else if (*proto != "any") {
    reader.error("protocol", fmt::format("'{}' is not a protocol: use \"tcp\", \"udp\", \"icmp\" or \"any\"", *proto));
    return false;
  }
  return true;
}

void NetworkFilters::describe(nlohmann::json& j) const {
  if (!interface.empty()) {
    j["scope"] = "interface";
    j["interface"] = interface;
    if (!netns.empty()) j["netns"] = netns;
    if (include_control) j["include_control"] = true;
  } else {
    j["scope"] = "cgroup";
  }
  j["direction"] = direction;
  j["protocol"] = protocol;
  if (!peers.empty()) j["peers"] = peers;
  if (!ports.empty()) j["ports"] = ports;
}

namespace network_docs {
const ParamDoc kTarget{"target", "string", "or interface", "a [[targets]] entry: the fault applies to its cgroup"};
const ParamDoc kTargetOnly{"target", "string", "", "a [[targets]] entry: the fault applies to its cgroup"};
const ParamDoc kInterface{"interface", "string", "or target", "an interface (tc filter), e.g. \"eth0\""};
const ParamDoc kInterfaceOnly{"interface", "string", "", "an interface (tc filter), e.g. \"eth0\""};
const ParamDoc kNetns{"netns", "string", "rebound's", "with interface: the named network namespace it is in"};
const ParamDoc kIncludeControl{"include_control", "bool", "false",
                               "with interface: act on the operator's way in too (TCP on local port 22 and the "
                               "SSH_CONNECTION session are left alone by default)"};
const ParamDoc kDirection{"direction", "string", "\"both\"", "\"ingress\", \"egress\" or \"both\""};
const ParamDoc kPeers{"peers", "string array", "any", "peer addresses or CIDRs (IPv4 or IPv6)"};
const ParamDoc kPorts{"ports", "integer array", "any", "peer ports"};
const ParamDoc kProtocol{"protocol", "string", "\"any\"", "\"tcp\", \"udp\", \"icmp\" or \"any\""};
}  // namespace network_docs

}  // namespace rebound
