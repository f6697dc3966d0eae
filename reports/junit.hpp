#pragma once
// One JUnit XML file for a run: a testsuite per experiment, a testcase per SLO criterion and
// steady-state check; failures carry the measured value and the limit.
#include <string>
#include <vector>

#include "experiments/experiment.hpp"
#include "experiments/runner.hpp"

namespace rebound {

struct JunitEntry {
  std::string experiment;
  std::string file;
  const RunResult* result = nullptr;        // null when the file did not validate
  std::string error;                        // validation errors, when result is null
};

std::string make_junit(const std::vector<JunitEntry>& entries);
std::string xml_escape(const std::string& text);

}  // namespace rebound
