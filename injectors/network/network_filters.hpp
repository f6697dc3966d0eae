#pragma once
// The keys every network fault shares, and their parsers: where it applies (a target's cgroup, or an
// interface, optionally in a named network namespace) and which packets it matches (peers, ports,
// protocol, direction, probability). They fill the configuration the BPF programs read.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/table_reader.hpp"
#include "injectors/registry.hpp"
#include "netfault.h"

namespace rebound {

// Which of the common keys a fault type accepts.
struct NetworkKeys {
  bool direction = true;    // accepts `direction`
  bool probability = true;  // accepts `probability`
  bool probability_required = true;
  bool cgroup_scope = true;      // may act on a target's cgroup
  bool interface_scope = true;   // may act on an interface
  const char* cgroup_only_reason = "";  // why an interface is refused, for the error message
  const char* interface_only_reason = "";
};

// A step's scope and filters as written, and what they set in the programs' configuration.
struct NetworkFilters {
  std::optional<TargetSpec> target;
  std::string interface;  // empty: the target's cgroup
  std::string netns;
  std::vector<std::string> peers;
  std::vector<int64_t> ports;
  std::string protocol = "any";
  std::string direction = "both";
  bool include_control = false;  // interface scope: the operator's SSH connections get the fault too

  // Reads the scope and the filters into `config`; false after recording errors.
  bool parse(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys,
             netfault_config& config, nlohmann::json& parameters);
  // Scope, direction, protocol, peers and ports, added to `j` for describe().
  void describe(nlohmann::json& j) const;

 private:
  bool parse_scope(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys);
  bool parse_direction(TableReader& reader, netfault_config& config);
  bool parse_peers(TableReader& reader, netfault_config& config);
  bool parse_ports(TableReader& reader, netfault_config& config);
  bool parse_protocol(TableReader& reader, netfault_config& config);
};

// Reads `probability` (a ratio) into config.probability and notes it in `parameters`; absent and not
// required: every matching packet. False after recording an error.
bool parse_probability(TableReader& reader, bool required, netfault_config& config, nlohmann::json& parameters);

// "10mbit", "512kbit", "1gbit", "800bit", "2MB", "64kB", "100B" (bits or bytes; per second for rates); the byte
// units are config/byte_size's.
std::optional<double> parse_size(const std::string& text, bool& bits);
// A required rate key, in bytes per second; nullopt after recording an error.
std::optional<double> read_rate(TableReader& reader, const std::string& key);

// The docs of the common keys, for the fault types' parameter lists.
namespace network_docs {
extern const ParamDoc kTarget, kTargetOnly, kInterface, kInterfaceOnly, kNetns, kIncludeControl, kDirection, kPeers,
    kPorts, kProtocol;
}

}  // namespace rebound
