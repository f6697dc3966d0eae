#pragma once
// Writes journal.json as it goes, never as one string: the tree from make_journal, laid out as
// nlohmann::json::dump(2) would, with each load probe's bucket rows streamed in from the run's series, one row a
// line (a ten-minute run at 2,000 requests/s has 60,000 rows; issue 14 asks for 50 MiB of RSS at most).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "experiments/runner.hpp"

namespace rebound {

// `journal` is make_journal(experiment, result); `secrets` are masked in the streamed rows as in the tree.
Result<void> write_journal(const std::string& path, const nlohmann::json& journal, const RunResult& result,
                           const std::vector<std::string>& secrets);

}  // namespace rebound
