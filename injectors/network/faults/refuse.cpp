// network.refuse: connect() to matching destinations fails at once with an errno (connect hooks on a cgroup).
#include <cerrno>
#include <fmt/format.h>

#include "injectors/network/network_fault.hpp"

namespace rebound::network_faults {

namespace {

int errno_from_name(const std::string& name) {
  if (name == "ECONNREFUSED") return ECONNREFUSED;
  if (name == "ETIMEDOUT") return ETIMEDOUT;
  if (name == "ENETUNREACH") return ENETUNREACH;
  if (name == "EHOSTUNREACH") return EHOSTUNREACH;
  if (name == "ECONNRESET") return ECONNRESET;
  if (name == "EACCES") return EACCES;
  if (name == "EPERM") return EPERM;
  return 0;
}

std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.direction = false;
  keys.probability_required = false;
  keys.interface_scope = false;
  keys.cgroup_only_reason = "connect() hooks attach to cgroups";
  auto fault = NetworkFault::start(reader, context, keys, NETFAULT_REFUSE);
  std::string name = reader.string("errno").value_or("ECONNREFUSED");
  if (!fault) return nullptr;
  fault->config().refuse_errno = errno_from_name(name);
  if (fault->config().refuse_errno == 0) {
    reader.error("errno", fmt::format("'{}' is not an errno rebound can return from connect(): use ECONNREFUSED, "
                                      "ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, EACCES or EPERM",
                                      name));
    return nullptr;
  }
  fault->parameters()["errno"] = name;
  return fault;
}

}  // namespace

NetworkFaultType refuse() {
  using namespace network_docs;
  return {{kTargetOnly,
           {"errno", "string", "\"ECONNREFUSED\"", "ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, EACCES, EPERM"},
           {"probability", "ratio", "1.0", "share of matching connects refused"},
           kPeers,
           kPorts,
           kProtocol},
          parse};
}

}  // namespace rebound::network_faults
