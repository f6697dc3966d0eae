#pragma once
// Why a target matched nothing: the nearest things it could have meant, appended to the "matches no running
// process" error. Kept apart from the resolution itself (system/targets.cpp), which stays about matching.
#include <string>
#include <vector>

#include "system/targets.hpp"

namespace rebound {

// "; closest command lines: ...; hint: ..." for cmdline and exe targets, what became of a setup step's process
// for setup targets, "" otherwise. Reads /proc now.
std::string no_match_hint(const TargetSpec& spec);

// The same for a given list of processes (each with its executable name), so that it can be tested without
// the host's process table.
struct SeenProcess {
  ProcessInfo info;
  std::string exe;  // the file name /proc/PID/exe points to
};
std::string no_match_hint(const TargetSpec& spec, const std::vector<SeenProcess>& seen);

}  // namespace rebound
