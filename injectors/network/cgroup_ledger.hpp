#pragma once
// Which process rebound holds in which of its cgroups, shared by every rebound using one state directory:
// `cgroups.ledger` (JSON) beside the fault records, read and written only under an exclusive flock on
// `cgroups.lock`.
// Per process it keeps the cgroup the process was in before rebound first moved it (its true original) and
// the stack of rebound cgroups holding it (each with its owner), so that a step that finds the process in a
// rebound cgroup nests inside it instead of taking that cgroup for the original, and the last holder to let
// go moves the process back to where it really belongs.
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"
#include "system/fd.hpp"

namespace rebound {

struct CgroupHold {
  std::string cgroup;
  pid_t owner_pid = 0;
  uint64_t owner_start_time = 0;
};

struct HeldProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;
  std::string original;            // where the process was before any rebound moved it
  std::vector<CgroupHold> holds;   // outermost first: the last is where the process belongs now
  // The deepest hold, or the original once nobody holds the process.
  const std::string& destination() const { return holds.empty() ? original : holds.back().cgroup; }
};

// The ledger, locked for as long as this object lives.
class CgroupLedger {
 public:
  // Locks `<state_dir>/cgroups.lock` (creating the directory and files as needed) and reads the ledger.
  [[nodiscard]] static Result<CgroupLedger> open(const std::string& state_dir);
  CgroupLedger(CgroupLedger&& other) noexcept = default;
  CgroupLedger& operator=(CgroupLedger&&) = delete;
  ~CgroupLedger() = default;  // unlocks (without saving)

  HeldProcess* find(pid_t pid, uint64_t start_time);
  HeldProcess& add(HeldProcess process);
  // Drops holds whose rebound has died (its programs died with it) and processes that have exited.
  void prune();
  // True if some process is held in exactly this cgroup.
  bool held(const std::string& cgroup) const;
  // Writes the ledger durably, leaving out processes nobody holds.
  [[nodiscard]] Result<void> save();

 private:
  CgroupLedger() = default;
  std::string path_;
  Fd lock_fd_;  // closing the only descriptor releases the flock
  std::vector<HeldProcess> processes_;
};

}  // namespace rebound
