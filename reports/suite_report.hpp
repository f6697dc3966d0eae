#pragma once
// A suite's summary.md and report.html: experiments and trials, the time-to-recover distribution per
// experiment, and its trend from the history.
#include <map>
#include <string>
#include <vector>

#include "history/history.hpp"
#include "gameday/suite.hpp"

namespace rebound {

// "ran on build-7 · started 2026-11-28 17:06:16 CET (UTC+0100) · took 4 min 12 s" (local time), or "".
std::string suite_when_and_where(const SuiteOutcome& outcome);

std::string make_suite_markdown(const Suite& suite, const SuiteOutcome& outcome);
// `trend`: per experiment, earlier runs' times to recover from the history, oldest first.
std::string make_suite_html(const Suite& suite, const SuiteOutcome& outcome,
                            const std::map<std::string, std::vector<HistoryRow>>& trend);

}  // namespace rebound
