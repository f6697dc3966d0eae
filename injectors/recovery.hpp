#pragma once
// `rebound recover`: undoes faults whose rebound died before reverting them.
#include <string>
#include <vector>

namespace rebound {

struct RecoveryReport {
  std::vector<std::string> lines;  // one sentence per record
  size_t recovered = 0, skipped = 0, failed = 0;
};

// Records owned by a live rebound are left alone unless `force`.
RecoveryReport recover_leftovers(const std::string& state_dir, bool force);

}  // namespace rebound
