#pragma once
// The hidden `rebound __guardian` subcommand (see system/guardian.hpp).
#include <string>
#include <vector>

#include "system/guardian.hpp"

namespace rebound {

// Runs the guardian when argv[1] is "__guardian"; its exit code.
int guardian_command(int argc, char** argv);

// Appends to STATE/guardian.log (0600, never through a link): the guardian's stdout and stderr are /dev/null.
void guardian_log(const std::string& state_dir, const std::vector<std::string>& lines);

// cli/guardian_deadline.cpp: ends the faults of the watched rebound that are past their hard deadline; how many
// ms until it should look again.
int enforce_fault_deadlines(const GuardianArgs& args);

}  // namespace rebound
