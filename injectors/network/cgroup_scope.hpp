#pragma once
// The cgroups a network fault on a process target acts through. A step's processes are moved into cgroups
// rebound creates (named rebound-PID-N), the step's programs are attached to those, and afterwards every
// process goes back to its own original cgroup and the cgroups are removed.
//
// Where the cgroup is made (parent_for): a process found in another step's rebound cgroup (this run's or
// another rebound's) gets the new cgroup *inside* that one, so the outer step's programs keep applying to it
// (cgroup programs attached with links are inherited by descendants) and only this step's processes get
// this step's programs. Any other process gets one inside its own cgroup where cgroup v2 allows it, else at
// the top of the hierarchy with a warning (cgroup_placement.hpp). Processes whose parents
// differ get one cgroup per parent; the step attaches to each.
//
// Who moves it back: the state directory's CgroupLedger keeps each process's true original and the stack of
// rebound cgroups holding it; leaving removes this step's hold and sends each process to the deepest hold
// left, or to its original once no live rebound holds it. A cgroup that still contains a held cgroup is
// left to the holder of that one, who removes it on its way out.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "system/targets.hpp"

namespace rebound {

class CgroupScope {
 public:
  // Moves the processes into rebound's cgroups. `record` durably notes what will be undone (before any
  // cgroup is made or process moved); `state_dir` is where the ledger shared with other rebounds lives.
  [[nodiscard]] static Result<std::unique_ptr<CgroupScope>> enter(
      const std::vector<ProcessInfo>& processes, const std::string& state_dir,
      const std::function<Result<void>(const nlohmann::json& undo)>& record);
  CgroupScope(const CgroupScope&) = delete;
  CgroupScope& operator=(const CgroupScope&) = delete;
  ~CgroupScope();  // leave() as a backstop: logs what failed

  // The cgroups to attach the step's programs to.
  const std::vector<std::string>& cgroups() const { return created_; }
  // One line per process that had to leave its own cgroup for the fault (see cgroup_placement.hpp).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Moves more processes in (a step that follows its target): into the scope's cgroup for their parent, or into
  // a new one (returned: the step's programs must be attached to it too). `record` rewrites the undo (all of it)
  // before anything moves. A process that exited meanwhile, or that is in the scope already, is left out.
  [[nodiscard]] Result<std::vector<std::string>> extend(
      const std::vector<ProcessInfo>& processes, const std::function<Result<void>(const nlohmann::json& undo)>& record);
  // Moves every process (children forked meanwhile too) where it belongs now, and removes the cgroups.
  [[nodiscard]] Result<void> leave();

  // `rebound recover` for a record written by enter(): the same as leave(), for a dead rebound. Refuses a
  // record naming a cgroup rebound would not have created.
  [[nodiscard]] static Result<std::string> recover(const nlohmann::json& undo);

 private:
  CgroupScope() = default;
  static Result<std::string> recover_record(const nlohmann::json& undo);
  Result<std::vector<std::string>> add(const std::vector<ProcessInfo>& processes,
                                       const std::function<Result<void>(const nlohmann::json&)>& record,
                                       bool skip_gone);
  bool inside(const std::string& cgroup) const;  // in or below one of the scope's cgroups
  std::string state_dir_;
  std::vector<std::string> created_;
  std::map<std::string, std::string> by_parent_;  // parent -> the scope's cgroup made in it
  std::vector<std::string> warnings_;
  nlohmann::json moved_;  // [{pid, start_time, original, cgroup}]
  bool left_ = false;
};

// True if `path` is a cgroup rebound itself creates: under the cgroup v2 mount, with no "..", and named
// rebound-PID-N.
bool is_rebound_cgroup(const std::string& path);

}  // namespace rebound
