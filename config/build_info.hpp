#pragma once
// What this build of rebound is: its version and the git commit it was built from (for --version, journals).
#include <string>

namespace rebound {

const char* rebound_version();
const char* rebound_commit();  // "0123456789ab", with "-dirty" for uncommitted changes; "unknown" without git
std::string version_line();    // "rebound 0.1.0 (commit 0123456789ab)"

}  // namespace rebound
