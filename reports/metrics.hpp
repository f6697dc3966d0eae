#pragma once
// The run's figures in the Prometheus text exposition format, for node_exporter's textfile collector.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rebound {

std::string make_prometheus_metrics(const std::vector<nlohmann::json>& journals);

}  // namespace rebound
