#pragma once
// Runs a game-day suite and writes its reports: for `rebound gameday` and for each start of `rebound schedule`.
#include <string>

#include "cli/common.hpp"

namespace rebound {

// Runs the suite into report_dir and writes its reports; the suite's verdict.
Verdict run_and_report_suite(const Suite& suite, const std::string& report_dir, const RunFlags& flags, History* history);

}  // namespace rebound
