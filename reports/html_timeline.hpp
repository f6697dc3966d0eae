#pragma once
// The SVG timeline of report.html, from a journal: one lane per probe, phases, faults, healing and recovery.
#include <nlohmann/json.hpp>
#include <string>

namespace rebound {

std::string timeline_svg(const nlohmann::json& journal);

}  // namespace rebound
