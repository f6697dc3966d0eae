// network.partition: all traffic with the listed peers is dropped, both directions.
#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {
std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.direction = false;
  keys.probability = false;
  auto fault = NetworkFault::start(reader, context, keys, NETFAULT_DROP);
  if (fault && fault->config().n_cidrs == 0) {
    reader.error("peers", "missing required key: a partition needs the peers it cuts off, e.g. peers = [\"10.0.0.0/8\"]");
    return nullptr;
  }
  return fault;
}
}  // namespace

NetworkFaultType partition() {
  using namespace network_docs;
  return {{kTarget, kInterface, kNetns, kIncludeControl,
           {"peers", "string array", "", "peer addresses or CIDRs cut off"}, kPorts,
           kProtocol},
          parse};
}

}  // namespace rebound::network_faults
