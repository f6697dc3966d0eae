#pragma once
// The hidden `rebound __guardian` subcommand (see system/guardian.hpp).
namespace rebound {

// Runs the guardian when argv[1] is "__guardian"; its exit code.
int guardian_command(int argc, char** argv);

}  // namespace rebound
