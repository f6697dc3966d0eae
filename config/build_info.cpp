#include "config/build_info.hpp"

#include "rebound_commit.h"  // generated at every build by cmake/commit.cmake

namespace rebound {

const char* rebound_version() { return REBOUND_VERSION; }
const char* rebound_commit() { return REBOUND_COMMIT; }
std::string version_line() { return std::string("rebound ") + REBOUND_VERSION + " (commit " + REBOUND_COMMIT + ")"; }

}  // namespace rebound
