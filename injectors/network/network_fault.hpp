#pragma once
// A packet fault: BPF programs that act on the packets a step's filters match, through tc filters on an
// interface (InterfaceScope) or cgroup programs on a target's cgroups (CgroupAttachment). Each fault type
// is one file, faults/<name>.cpp, that reads its own keys into the configuration, and one row in
// injectors/registry.cpp with the programs it needs.
#include <memory>

#include "injectors/network/armed_switch.hpp"
#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/cgroup_attachment.hpp"
#include "injectors/network/existing_sockets.hpp"
#include "injectors/network/interface_scope.hpp"
#include "injectors/network/netfault_programs.hpp"
#include "injectors/network/network_filters.hpp"
#include "injectors/registry.hpp"
#include "netfault.h"

namespace rebound {

class NetworkFault final : public StepAction {
 public:
  // A fault doing `action` with the common keys read; nullptr after recording errors.
  static std::unique_ptr<NetworkFault> start(TableReader& reader, const StepFactoryContext& context,
                                             const NetworkKeys& keys, netfault_action action);

  // Attaches the programs switched off, before the method starts; apply switches them on with one store.
  bool prepares() const override { return true; }
  Result<void> prepare(StepContext& context) override;
  Result<void> apply(StepContext& context) override;
  void switch_off(StepContext& context) override {
    if (skel_) switch_armed(skel_->data->armed, false, context);
  }
  Result<void> revert(StepContext& context) override;
  Result<void> preflight() override;
  // On a process target's cgroups (not on an interface): new processes move into the step's cgroups, and the
  // sockets they opened before that are reached too.
  bool follows() const override { return !on_interface(); }
  Result<std::vector<ProcessInfo>> extend(StepContext& context, const std::vector<ProcessInfo>& newcomers) override;
  nlohmann::json describe() const override;
  // `rebound recover` for any network fault's record.
  static Result<std::string> recover(const nlohmann::json& undo);

  // For the fault types' parsers.
  netfault_config& config() { return config_; }
  nlohmann::json& parameters() { return parameters_; }  // the type's own keys, for describe()
  bool on_interface() const { return !filters_.interface.empty(); }

 private:
  // The programs the fault needs (a bitmask of NetfaultProgram).
  unsigned programs() const;

  bool prepared_ = false;  // attached and switched off, waiting for apply
  netfault_config config_{};
  nlohmann::json parameters_ = nlohmann::json::object();
  NetworkFilters filters_;
  NetfaultSkeleton skel_;
  CgroupAttachment cgroups_;                          // while applied on a target's cgroups
  ExistingSockets existing_;                          // a process target's sockets from before the step
  std::unique_ptr<InterfaceScope> interface_scope_;  // while applied on an interface (declared last: goes first)
};

// What a fault type's file gives its registry row: the docs of its keys and its parser.
struct NetworkFaultType {
  std::vector<ParamDoc> params;
  std::unique_ptr<StepAction> (*parse)(TableReader& reader, const StepFactoryContext& context);
};

}  // namespace rebound
