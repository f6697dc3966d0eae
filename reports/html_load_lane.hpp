#pragma once
// A load probe's lane of the HTML timeline: its 10 ms buckets as requests per bucket, the error ratio over time
// and p50/p99 latency bands (issue 14).
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "experiments/analysis.hpp"

namespace rebound {

// Whether a journal probe is a load probe's (rows of "bucket_columns" in "buckets", or left to the run's series).
bool is_load_lane(const nlohmann::json& probe);

// The lane's drawing between lane_top and lane_bottom; x maps a time (ms) to the plot's x. `live`: the probe's
// series when the journal leaves the rows to it (make_journal), else nullptr.
std::string load_lane_svg(const nlohmann::json& probe, const ProbeSeries* live,
                          const std::function<double(double)>& x, double lane_top, double lane_bottom);

}  // namespace rebound
