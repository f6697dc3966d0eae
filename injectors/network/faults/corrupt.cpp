// network.corrupt: a 16-bit word of matching TCP/UDP payloads is damaged, checksum kept valid (tc only).
#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {
std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.cgroup_scope = false;
  keys.interface_only_reason = "cgroup_skb programs cannot change packets";
  return NetworkFault::start(reader, context, keys, NETFAULT_CORRUPT);
}
}  // namespace

NetworkFaultType corrupt() {
  using namespace network_docs;
  return {{kInterfaceOnly, kNetns, kIncludeControl,
           {"probability", "ratio", "", "share of matching TCP/UDP packets damaged"},
           kDirection, kPeers, kPorts, kProtocol},
          parse};
}

}  // namespace rebound::network_faults
