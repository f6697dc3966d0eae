#pragma once
// The game-day report's charts (SVG): time to recover per trial against the SLO deadline, and each
// experiment's trend over earlier runs with a value on every bar, a y axis and the SLO line.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gameday/suite.hpp"
#include "history/history.hpp"

namespace rebound {

// The recover_within of each experiment of the suite, in ms (none: the experiment sets no such SLO).
std::map<std::string, std::optional<double>> suite_slos(const Suite& suite);

std::string suite_distribution_svg(const SuiteOutcome& outcome, const std::map<std::string, std::optional<double>>& slos);
// One chart per experiment: `rows` oldest first.
// With the trend fitted over the runs (Theil-Sen) and projected ahead, to where it crosses the SLO if that is near.
std::string suite_trend_svg(const std::vector<HistoryRow>& rows, std::optional<double> slo_ms);
// The trend test's sentence for the same runs ("trend: time to recover rising by ...").
std::string suite_trend_text(const std::vector<HistoryRow>& rows, std::optional<double> slo_ms);

}  // namespace rebound
