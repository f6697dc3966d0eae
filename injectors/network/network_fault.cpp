#include "injectors/network/network_fault.hpp"

#include <chrono>
#include <cstdlib>
#include <fmt/format.h>

#include "injectors/network/control_exclusion.hpp"

namespace rebound {

std::unique_ptr<NetworkFault> NetworkFault::start(TableReader& reader, const StepFactoryContext& context,
                                                  const NetworkKeys& keys, netfault_action action) {
  auto fault = std::make_unique<NetworkFault>();
  fault->config_.action = action;
  if (!fault->filters_.parse(reader, context, keys, fault->config_, fault->parameters_)) return nullptr;
  return fault;
}

nlohmann::json NetworkFault::describe() const {
  nlohmann::json j = parameters_;
  filters_.describe(j);
  return j;
}

unsigned NetworkFault::programs() const {
  if (config_.action == NETFAULT_REFUSE) return kConnectPrograms;
  unsigned p = 0;
  bool in = config_.directions & NETFAULT_DIR_INGRESS, out = config_.directions & NETFAULT_DIR_EGRESS;
  if (on_interface()) {
    if (in) p |= kTcIngress;
    if (out) p |= kTcEgress;
  } else {
    if (in) p |= kCgroupIngress | kSocketsIngress;
    if (out) p |= kCgroupEgress | kSocketsEgress;
  }
  return p;
}

Result<void> NetworkFault::preflight() {
  if (!on_interface() && cgroup2_mount().empty()) {
    return fail("cgroup v2 is not mounted: a process tree cannot be scoped (mount cgroup2, or use interface = ...)");
  }
  if (on_interface())
    if (auto r = InterfaceScope(filters_.interface, filters_.netns).preflight(programs()); !r) return r;
  // Loaded now, before the timeline: the verifier's time must not count against the step's start.
  return load_netfault_once(skel_, programs());
}

Result<void> NetworkFault::prepare(StepContext& context) {
  if (auto loaded = load_netfault_once(skel_, programs()); !loaded) return loaded;
  if (on_interface())  // the operator's way in stays open unless the step says otherwise
    context.detail["excluded"] = exclude_control(config_, filters_.include_control, std::getenv("SSH_CONNECTION"));
  skel_->bss->cfg = config_;
  skel_->data->armed = 0;  // attached switched off: the step's start is one store (apply)
  Result<void> applied;
  if (on_interface()) {
    interface_scope_ = std::make_unique<InterfaceScope>(filters_.interface, filters_.netns);
    applied = interface_scope_->apply(context, *skel_, programs());
  } else {
    applied = cgroups_.apply(context, *filters_.target, *skel_, programs());
    // The sockets the target held before: their cgroups are not the step's (see existing_sockets.hpp).
    if (applied) applied = existing_.apply(context, *skel_, programs(), cgroups_.cgroups());
  }
  if (!applied) {
    (void)revert(context);  // the apply's error is the one to report
    return applied;
  }
  prepared_ = true;
  return {};
}

Result<void> NetworkFault::apply(StepContext& context) {
  if (!prepared_)
    if (auto r = prepare(context); !r) return r;
  switch_armed(skel_->data->armed, true, context);
  return {};
}

Result<std::vector<ProcessInfo>> NetworkFault::extend(StepContext& context, const std::vector<ProcessInfo>& newcomers) {
  if (!skel_ || on_interface()) return fail("the fault is not applied on a process target");
  auto reached = cgroups_.extend(context, newcomers, *skel_, programs());
  if (!reached) return reached;
  // Listed once they are in the step's cgroups: a socket made before the move is listed, one made after is
  // the cgroup's.
  if (auto r = existing_.extend(context, *reached, *skel_, programs(), cgroups_.cgroups()); !r) return r.error();
  return reached;
}

namespace {

// The step's effect from the counters report_netfault_counters left in its detail.
StepEffect counted_effect(const nlohmann::json& detail, const std::string& noun, const std::string& where) {
  auto count = [&](const std::string& key) { return detail.value("packets_" + key, uint64_t{0}); };
  uint64_t affected = count("affected"), matched = count("matched");
  std::string summary = fmt::format("affected {} of {} {}", affected, matched, noun);
  if (matched == 0) summary += fmt::format(": {} nothing matching during the fault", where);
  else if (affected == 0) summary += ": none of the matching ones was hit";
  return {affected > 0, summary};
}

}  // namespace

Result<void> NetworkFault::revert(StepContext& context) {
  switch_off(context);  // at one instant (if the runner has not already); then detached
  prepared_ = false;
  std::vector<std::string> errors;
  if (interface_scope_) {
    if (auto r = interface_scope_->revert(); !r) errors.push_back(r.error().message);
    interface_scope_.reset();
  }
  if (auto r = existing_.revert(); !r) errors.push_back(r.error().message);
  if (auto r = cgroups_.revert(); !r) errors.push_back(r.error().message);
  const bool counters = static_cast<bool>(skel_);
  report_netfault_counters(context, skel_, "packets", programs());
  if (counters)
    context.effect = counted_effect(context.detail, config_.action == NETFAULT_REFUSE ? "connects" : "packets",
                                    on_interface() ? "interface " + filters_.interface + " carried" : "the target sent");
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

Result<std::string> NetworkFault::recover(const nlohmann::json& undo) {
  if (undo.value("scope", "") == "cgroup") return CgroupScope::recover(undo);
  return InterfaceScope::recover(undo);
}

}  // namespace rebound
