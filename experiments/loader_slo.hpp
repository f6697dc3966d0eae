#pragma once
// The [slo] table of an experiment file (kept apart from the loader, which reads everything else).
#include <optional>
#include <string>

#include "config/table_reader.hpp"
#include "experiments/experiment.hpp"

namespace rebound {

// A number from 0 to 1 at `key`, or an error that says so.
std::optional<double> read_ratio(TableReader& r, const std::string& key);

// Reads [slo] into ex.slo; the method must be parsed already (heal_within is checked against its faults).
void parse_slo(TableReader& r, Experiment& ex);

}  // namespace rebound
