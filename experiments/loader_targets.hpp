#pragma once
// The blast radius of a [[targets]] entry: count, percent, pick, seed.
#include "config/table_reader.hpp"
#include "system/targets.hpp"

namespace rebound {

// Reads count / percent / pick / seed into `t`; without a seed, draws one for the whole run.
void parse_blast_radius(TableReader& r, TargetSpec& t);

}  // namespace rebound
