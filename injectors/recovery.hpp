#pragma once
// Undoing faults whose rebound died before reverting them: by its guardian the moment it dies
// (system/guardian.hpp), or by `rebound recover` when the guardian died too.
#include <optional>
#include <string>
#include <vector>

#include "system/fault_record.hpp"

namespace rebound {

struct RecoveredFault {
  std::string experiment, step, type, report_dir;
  bool ok = false;
  std::string outcome;  // what was done, or why it failed
};

struct RecoveryReport {
  std::vector<std::string> lines;  // one sentence per record
  std::vector<RecoveredFault> faults;
  size_t recovered = 0, skipped = 0, failed = 0;
  std::string refused;  // set when the state directory itself is not trusted: nothing was touched
};

// `rebound recover`: every record; those of a live rebound are left alone unless `force`.
RecoveryReport recover_leftovers(const std::string& state_dir, bool force);
// The guardian: only the records written by `owner` (its parent, now dead).
RecoveryReport recover_owned_by(const std::string& state_dir, const RecordOwner& owner);

}  // namespace rebound
