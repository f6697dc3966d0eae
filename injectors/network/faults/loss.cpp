// network.loss: matching packets are dropped with a probability.
#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {
std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  return NetworkFault::start(reader, context, {}, NETFAULT_DROP);
}
}  // namespace

NetworkFaultType loss() {
  using namespace network_docs;
  return {{kTarget, kInterface, kNetns, kIncludeControl,
           {"probability", "ratio", "", "share of matching packets dropped"},
           kDirection, kPeers, kPorts, kProtocol},
          parse};
}

}  // namespace rebound::network_faults
