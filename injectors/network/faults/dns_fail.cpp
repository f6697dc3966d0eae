// dns.fail: DNS queries for matching names get NXDOMAIN or SERVFAIL (tc rewrites the query into an answer)
// or no answer at all (the query is dropped).
#include <cctype>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>

#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {

// DNS wire format of a dotted name, lower case, without the root label.
std::optional<std::vector<uint8_t>> dns_wire(const std::string& name) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return std::nullopt;
    out.push_back(static_cast<uint8_t>(label.size()));
    for (char c : label) out.push_back(static_cast<uint8_t>(std::tolower(static_cast<unsigned char>(c))));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (out.empty() || out.size() > NETFAULT_MAX_DNS_NAME) return std::nullopt;
  return out;
}

// "api.example.com" or "*.example.com" into the configuration; false after recording an error.
bool set_domain(TableReader& reader, const std::string& name, netfault_config& config) {
  std::string pattern = name;
  if (pattern.starts_with("*.")) {
    config.dns_suffix = 1;
    pattern = pattern.substr(2);
  }
  while (!pattern.empty() && pattern.back() == '.') pattern.pop_back();
  auto wire = dns_wire(pattern);
  if (!wire) {
    reader.error("domain", fmt::format("'{}' is not a DNS name such as \"api.example.com\" or \"*.example.com\"", name));
    return false;
  }
  config.dns_name_len = static_cast<__u32>(wire->size());
  std::memcpy(config.dns_name, wire->data(), wire->size());
  return true;
}

// The answer's rcode (0: none); false after recording an error.
bool set_answer(TableReader& reader, const std::string& answer, bool on_interface, netfault_config& config) {
  if (answer == "nxdomain") config.dns_rcode = 3;
  else if (answer == "servfail") config.dns_rcode = 2;
  else if (answer == "timeout") config.dns_rcode = 0;
  else {
    reader.error("answer", fmt::format("'{}' is not an answer: use \"nxdomain\", \"servfail\" or \"timeout\"", answer));
    return false;
  }
  if (config.dns_rcode != 0 && !on_interface) {  // tc can rewrite the query into an answer; cgroup_skb cannot
    reader.error("answer", "a cgroup-scoped dns.fail can only drop queries (answer = \"timeout\"): cgroup_skb programs "
                           "cannot write an answer; use interface = \"...\" for nxdomain or servfail");
    return false;
  }
  return true;
}

std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.direction = false;
  keys.probability_required = false;
  auto fault = NetworkFault::start(reader, context, keys, NETFAULT_DNS);
  auto name = reader.string("domain", true);
  std::string answer = reader.string("answer").value_or("nxdomain");
  if (!fault || !name) return nullptr;
  auto& config = fault->config();
  config.directions = NETFAULT_DIR_EGRESS;
  config.protocol = IPPROTO_UDP;
  if (!set_domain(reader, *name, config)) return nullptr;
  if (!set_answer(reader, answer, fault->on_interface(), config)) return nullptr;
  fault->parameters()["domain"] = *name;
  fault->parameters()["answer"] = answer;
  return fault;
}

}  // namespace

NetworkFaultType dns_fail() {
  using namespace network_docs;
  return {{kTarget,
           kInterface,
           kNetns,
           kIncludeControl,
           {"domain", "string", "", "\"example.com\" (exactly) or \"*.example.com\" (it and every name below it)"},
           {"answer", "string", "\"nxdomain\"", "\"nxdomain\", \"servfail\" or \"timeout\" (no answer)"},
           {"probability", "ratio", "1.0", "share of matching queries failed"},
           kPeers},
          parse};
}

}  // namespace rebound::network_faults
