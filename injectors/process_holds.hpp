#pragma once
// Who keeps a process frozen. Two experiments may freeze one process at once; the first to end must not resume
// it under the second. Each freeze leaves a hold file, STATE/holds/process-PID-START/OWNERPID-OWNERSTART-N.json,
// created and removed under the state lock (system/state_dir.hpp); a process is resumed only when no live
// rebound holds it any more. Holds of dead rebounds are stale and do not count.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "system/targets.hpp"

namespace rebound {

// A new hold's path for this rebound and process, in the state directory.
std::string make_hold_path(const std::string& state_dir, const ProcessInfo& process);
// True when `path` is a hold file's path inside `state_dir` (a record names it; nothing else is touched).
bool is_hold_path(const std::string& state_dir, const std::string& path);

// Writes the hold (the caller holds the state lock). `who` says which experiment and step, for messages.
[[nodiscard]] Result<void> add_hold(const std::string& state_dir, const std::string& path, nlohmann::json who);
// Removes the hold (the caller holds the state lock) and stale ones beside it; returns, one line each, the live
// rebounds that still hold the process. Empty: the caller may resume it.
std::vector<std::string> release_hold(const std::string& path);

}  // namespace rebound
