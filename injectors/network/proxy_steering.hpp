#pragma once
// What every proxy fault shares (tcp.toxic, network.delay, http.fault): connect hooks on the target's cgroup
// that steer its matching TCP connects into one of rebound's proxies, switched on and off at one instant, and
// the proxy's listener in the target's network namespace. The proxy itself (its engine) is the fault's own.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "injectors/network/armed_switch.hpp"
#include "injectors/network/cgroup_attachment.hpp"
#include "injectors/network/existing_connections.hpp"
#include "injectors/network/netfault_programs.hpp"
#include "injectors/network/network_filters.hpp"

namespace rebound {

// Where a started proxy listens: what the steering programs redirect to.
struct ProxyEndpoint {
  uint16_t port4 = 0, port6 = 0;
  uint64_t netns_cookie = 0;
};

class ProxySteering {
 public:
  // Starts the fault's proxy in the network namespace of `netns_pid` (0: rebound's own), reading original
  // destinations from the steering map `origins_map_fd`.
  using StartProxy = std::function<Result<ProxyEndpoint>(int origins_map_fd, pid_t netns_pid)>;

  // The scope and filters (target, peers, ports, protocol) and `existing`; false after recording errors.
  bool parse(TableReader& reader, const StepFactoryContext& context, nlohmann::json& parameters);
  // scope, protocol, peers, ports and the mechanism, for describe().
  void describe(nlohmann::json& j) const;

  Result<void> preflight();
  // Starts the proxy and attaches the hooks switched off. A failed prepare undid itself.
  Result<void> prepare(StepContext& context, const StartProxy& start);
  Result<void> apply(StepContext& context, const StartProxy& start);
  void switch_off(StepContext& context) {
    if (skel_) switch_armed(skel_->data->armed, false, context);
  }
  // Switches off and detaches the hooks (the proxy's connections stay: the fault's own revert decides).
  Result<void> revert(StepContext& context);

 private:
  Result<void> start_proxy(StepContext& context, const StartProxy& start);

  bool prepared_ = false;  // listening and attached, switched off, waiting for apply
  netfault_config config_{};
  NetworkFilters filters_;
  ExistingConnections existing_ = ExistingConnections::keep;  // the target's connections from before the step
  NetfaultSkeleton skel_;
  CgroupAttachment cgroups_;  // the connect hooks that steer into the proxy
};

}  // namespace rebound
