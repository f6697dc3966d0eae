#pragma once
// A packet fault on a process target reaches the sockets the target already held when the step started.
// Those sockets keep the cgroup they were created in (the step's own cgroup only covers sockets made from
// then on), so their cookies go into the programs' target_sockets map and the cookie-matching programs are
// attached to the cgroups they were created in: those programs act on the listed sockets only, never on
// another process's sockets in the same cgroup.
#include <set>
#include <string>
#include <vector>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/step.hpp"

namespace rebound {

class ExistingSockets {
 public:
  // Lists the sockets of context.processes, puts their cookies into skel's target_sockets map and attaches
  // the programs of `programs` (kSocketsIngress, kSocketsEgress) to their cgroups, leaving out sockets in or
  // below `covered` (cgroups the step's own programs are attached to already). Notes what it found in the
  // step's detail: existing_sockets, and the first few as existing_socket_list.
  [[nodiscard]] Result<void> apply(StepContext& context, netfault_bpf& skel, unsigned programs,
                                   const std::vector<std::string>& covered);
  // The same for a process target's new processes (a step that follows it), after they moved into the step's
  // cgroups: the sockets they opened before that (a restarted server's listener) are reached too.
  [[nodiscard]] Result<void> extend(StepContext& context, const std::vector<ProcessInfo>& newcomers, netfault_bpf& skel,
                                    unsigned programs, const std::vector<std::string>& covered);
  // Detaches the programs. Safe to call again.
  [[nodiscard]] Result<void> revert();

 private:
  struct Found {
    size_t listed = 0, unknown = 0;
    nlohmann::json described = nlohmann::json::array();
    std::set<std::string> cgroups;  // where the listed sockets were created
  };
  Result<Found> cover(const std::vector<ProcessInfo>& processes, netfault_bpf& skel, unsigned programs,
                      const std::vector<std::string>& covered);
  std::vector<BpfLink> links_;
  std::set<std::string> attached_;  // the cgroups links_ are on
};

// The path of the cgroup v2 directory whose id (inode) is `id`, trying `hints` and their ancestors first,
// then the whole hierarchy; "" when there is none.
std::string cgroup_path_of_id(uint64_t id, const std::vector<std::string>& hints);

}  // namespace rebound
