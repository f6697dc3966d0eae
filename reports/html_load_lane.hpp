#pragma once
// A load probe's lane of the HTML timeline: its 10 ms buckets as requests per bucket, the error ratio over time
// and p50/p99 latency bands (issue 14).
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace rebound {

// Whether a journal probe holds a load probe's buckets (rows of "bucket_columns" in "buckets").
bool is_load_lane(const nlohmann::json& probe);

// The lane's drawing between lane_top and lane_bottom; x maps a time (ms) to the plot's x.
std::string load_lane_svg(const nlohmann::json& probe, const std::function<double(double)>& x, double lane_top,
                          double lane_bottom);

}  // namespace rebound
