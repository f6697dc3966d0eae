#pragma once
// The interface scope of a network fault: tc filters on an interface (optionally in a named network
// namespace), the lease that switches them off within kTcLeaseMs if rebound dies, and the clsact qdisc,
// which other faults and other rebounds may share (see shared_objects.hpp).
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/step.hpp"

namespace rebound {

// How long a tc fault outlives rebound at most: rebound renews this lease every kTcLeaseRenewMs.
constexpr int64_t kTcLeaseMs = 2000;
constexpr int64_t kTcLeaseRenewMs = 200;
constexpr unsigned kTcFirstPriority = 0xc000;
constexpr unsigned kTcPriorities = 64;

class InterfaceScope {
 public:
  InterfaceScope(std::string interface, std::string netns)
      : interface_(std::move(interface)), netns_(std::move(netns)) {}
  ~InterfaceScope();
  InterfaceScope(const InterfaceScope&) = delete;

  // Before anything runs, if the interface exists already: that each hook has a free priority.
  [[nodiscard]] Result<void> preflight(unsigned programs) const;
  // Attaches skel's tc programs for the hooks in `programs` (kTcIngress, kTcEgress) and keeps their lease.
  [[nodiscard]] Result<void> apply(StepContext& context, netfault_bpf& skel, unsigned programs);
  // Detaches them, ends the lease, and lets go of the clsact qdisc (removed by its last user, if rebound
  // added it). Safe to call more than once.
  [[nodiscard]] Result<void> revert();
  // `rebound recover` for an interface fault's record.
  static Result<std::string> recover(const nlohmann::json& undo);

 private:
  [[nodiscard]] Result<void> resolve(netfault_bpf& skel);
  [[nodiscard]] Result<void> acquire_clsact(const std::string& state_dir);
  [[nodiscard]] Result<void> release_clsact();
  nlohmann::json record(const std::vector<std::pair<bool, ProgIdentity>>& progs) const;
  void start_lease(netfault_bpf& skel);
  void stop_lease();

  std::string interface_, netns_;
  int ifindex_ = 0;
  std::vector<TcFilter> filters_;
  // The clsact qdisc: counted through <state>/shared when rebound has a state folder.
  std::string shared_dir_, user_record_;
  bool created_clsact_ = false;  // this step added it
  bool holds_clsact_ = false;

  std::thread keeper_;
  std::mutex keeper_mutex_;
  std::condition_variable keeper_wake_;
  bool keeper_stop_ = false;
};

}  // namespace rebound
