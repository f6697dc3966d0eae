// network.duplicate: matching packets are sent twice (tc only).
#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {
std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.cgroup_scope = false;
  keys.interface_only_reason = "cgroup_skb programs cannot clone packets";
  return NetworkFault::start(reader, context, keys, NETFAULT_DUPLICATE);
}
}  // namespace

NetworkFaultType duplicate() {
  using namespace network_docs;
  return {{kInterfaceOnly, kNetns, kIncludeControl,
           {"probability", "ratio", "", "share of matching packets sent twice"},
           kDirection, kPeers, kPorts, kProtocol},
          parse};
}

}  // namespace rebound::network_faults
