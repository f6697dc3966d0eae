#pragma once
// What every network fault shares: where it applies (a target's cgroup, or an interface, optionally in
// a named network namespace), which packets it matches (peers, ports, protocol, direction), and the
// kernel handles that put it in place. The fault types themselves only fill in the configuration.
#include <memory>
#include <optional>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/cgroup_scope.hpp"
#include "injectors/network/interface_scope.hpp"
#include "injectors/registry.hpp"
#include "netfault.h"

namespace rebound {

struct NetworkKeys {
  bool direction = true;    // accepts `direction`
  bool probability = true;  // accepts `probability`
  bool probability_required = true;
  bool cgroup_scope = true;      // may act on a target's cgroup
  bool interface_scope = true;   // may act on an interface
  const char* cgroup_only_reason = "";  // why an interface is refused, for the error message
  const char* interface_only_reason = "";
};

class NetworkFault : public StepAction {
 public:
  Result<void> apply(StepContext& context) override;
  Result<void> revert(StepContext& context) override;
  Result<void> preflight() override;
  nlohmann::json describe() const override;
  // `rebound recover` for any network fault's record.
  static Result<std::string> recover(const nlohmann::json& undo);
  ~NetworkFault() override;

 protected:
  // Reads target/interface scope and the filters; false after recording errors.
  bool parse_common(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys);
  // Reads a ratio into config_.probability.
  bool parse_probability(TableReader& reader, bool required);
  // The programs the fault needs (a bitmask of NetfaultProgram).
  virtual unsigned programs() const;
  // Runs on the loaded programs' .bss just before they are attached.
  virtual void configure(netfault_bpf&) {}
  // Loads the programs through the verifier, once.
  Result<void> load_programs();
  // What the programs count, for the journal's detail keys ("packets_seen", ...).
  std::string counted_ = "packets";
  netfault_config config_{};
  nlohmann::json parameters_ = nlohmann::json::object();  // the type's own keys, for describe()
  std::string interface_;  // empty: the target's cgroup
  NetfaultSkeleton skel_;

  // Makes a fault of type T with the common keys read; nullptr after recording errors.
  template <class T>
  static std::unique_ptr<T> start(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys,
                                  netfault_action action) {
    auto fault = std::make_unique<T>();
    fault->config_.action = action;
    if (!fault->parse_common(reader, context, keys)) return nullptr;
    return fault;
  }

 private:
  Result<void> apply_cgroup(StepContext& context);
  Result<void> attach_to_cgroup(const std::string& path);
  Result<void> apply_interface(StepContext& context);

  // Scope.
  std::optional<TargetSpec> target_;
  std::string netns_;
  // Filters as written, for describe().
  std::vector<std::string> peers_;
  std::vector<int64_t> ports_;
  std::string protocol_ = "any";
  std::string direction_ = "both";

  // Live state while applied.
  std::unique_ptr<CgroupScope> cgroup_scope_;  // a process target's cgroups (declared first: destroyed last)
  std::vector<BpfLink> links_;
  std::unique_ptr<InterfaceScope> interface_scope_;  // while applied on an interface
};

// The fault types: each parses its own keys into the shared configuration.
struct NetworkLoss : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};
struct NetworkPartition : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};
struct NetworkCorrupt : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};
struct NetworkDuplicate : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};
struct NetworkBandwidth : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};
struct NetworkRefuse : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};
struct DnsFail : NetworkFault {
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);
};

// "10mbit", "512kbit", "1gbit", "800bit", "2MB", "64kB", "100B" (bits or bytes; per second for rates).
std::optional<double> parse_size(const std::string& text, bool& bits);
// A required rate key, in bytes per second; nullopt after recording an error.
std::optional<double> read_rate(TableReader& reader, const std::string& key);

// For `rebound doctor` and for refusing a step before anything runs: can this host do the step type?
Result<void> network_fault_available(const std::string& type);

}  // namespace rebound
