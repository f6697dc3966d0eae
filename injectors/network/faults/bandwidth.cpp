// network.bandwidth: a token-bucket policer in BPF; matching packets over the rate are dropped.
#include <algorithm>
#include <fmt/format.h>

#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {

// The bucket size in bytes: `burst` as written, or what suits the rate; nullopt after recording an error.
std::optional<double> read_burst(TableReader& reader, const std::optional<std::string>& text, double bytes_per_sec) {
  // A GSO packet is up to 64 KiB: a smaller bucket starves TCP. 256 KiB measured well from 1 to 100 mbit.
  if (!text) return std::max(bytes_per_sec * 0.05, 262144.0);
  bool bits = false;
  auto b = parse_size(*text, bits);
  if (!b || *b <= 0) {
    reader.error("burst", fmt::format("'{}' is not a size such as \"128kB\"", *text));
    return std::nullopt;
  }
  return bits ? *b / 8 : *b;
}

std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.probability = false;
  auto fault = NetworkFault::start(reader, context, keys, NETFAULT_POLICE);
  auto rate = read_rate(reader, "rate");
  auto burst_text = reader.string("burst");
  if (!fault || !rate) return nullptr;
  double bytes_per_sec = *rate;
  auto burst = read_burst(reader, burst_text, bytes_per_sec);
  if (!burst) return nullptr;
  if (bytes_per_sec > static_cast<double>(NETFAULT_MAX_RATE)) {
    reader.error("rate", "above the limit of 100gbit (12.5GB per second) that the token bucket can count");
    return nullptr;
  }
  if (*burst > static_cast<double>(NETFAULT_MAX_BURST)) {
    reader.error("burst", "above the limit of 1GiB that the token bucket can count");
    return nullptr;
  }
  auto& config = fault->config();
  config.rate_bytes_per_sec = std::max<uint64_t>(static_cast<uint64_t>(bytes_per_sec), 1);
  config.burst_bytes = static_cast<uint64_t>(*burst);
  // From a full debt to a full bucket: any longer idle time adds nothing, and the product stays small.
  config.fill_ns = 2 * config.burst_bytes * 1'000'000'000ull / config.rate_bytes_per_sec + 1;
  fault->parameters()["rate_bytes_per_sec"] = config.rate_bytes_per_sec;
  fault->parameters()["burst_bytes"] = config.burst_bytes;
  fault->parameters()["mechanism"] = "token-bucket policer in BPF: packets over the rate are dropped";
  return fault;
}

}  // namespace

NetworkFaultType bandwidth() {
  using namespace network_docs;
  return {{kTarget,
           kInterface,
           kNetns,
           kIncludeControl,
           {"rate", "string", "", "\"10mbit\", \"512kbit\", \"2MB\" (per second; tc units)"},
           {"burst", "string", "max(rate x 50ms, 256KiB)", "bucket size, e.g. \"512kB\""},
           kDirection,
           kPeers,
           kPorts,
           kProtocol},
          parse};
}

}  // namespace rebound::network_faults
