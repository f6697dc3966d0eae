#pragma once
// The SVG timeline of report.html, from a journal: one lane per probe, phases, faults, healing and recovery.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/analysis.hpp"

namespace rebound {

// `live`: the run's series for what the journal leaves to them (make_html), or nullptr.
std::string timeline_svg(const nlohmann::json& journal, const std::vector<ProbeSeries>* live = nullptr);

}  // namespace rebound
