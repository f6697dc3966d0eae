#pragma once
// Where a process target's cgroup for a fault is made, so that its own cgroup's limits keep applying.
//
// Inside the cgroup the process is in, when cgroup v2 allows it there: a domain cgroup with no controllers
// enabled for its children (cgroup.subtree_control empty, as systemd service cgroups and containers' leaf
// cgroups are). The "no internal processes" rule only binds cgroups that enable controllers for their
// children, so the process's cgroup may keep its other processes while the target sits in a child, and
// everything above (memory.max, cpu.max, pids.max, accounting, the unit's stop) keeps reaching it.
// Inside a rebound cgroup the process is in already (another step acts through that one). Else at the top
// of the hierarchy, with a warning that says what the process left.
#include <string>

namespace rebound {

struct CgroupPlacement {
  std::string parent;   // where to make the step's cgroup
  std::string warning;  // "" unless the process leaves its own cgroup for the fault
};

// `current` is the process's cgroup (a path under the cgroup v2 mount), `pid` is for the warning's text.
CgroupPlacement place_cgroup(int pid, const std::string& current);

}  // namespace rebound
