#include "probes/registry.hpp"

#include "probes/command_probe.hpp"
#include "probes/http_probe.hpp"
#include "probes/load_probe.hpp"
#include "probes/metrics_probe.hpp"
#include "probes/prometheus_probe.hpp"
#include "probes/process_probe.hpp"
#include "probes/tcp_probe.hpp"

namespace rebound {

const std::vector<ProbeType>& probe_registry() {
  static const std::vector<ProbeType> table = {
      {"http", "HTTP request; ok when the status, body and latency are as expected", HttpProbe::params(),
       HttpProbe::parse},
      {"tcp", "TCP connect; ok when the connection is accepted in time", TcpProbe::params(), TcpProbe::parse},
      {"command", "Runs a program; ok when its exit code and output are as expected", CommandProbe::params(),
       CommandProbe::parse},
      {"process", "Counts a target's live processes; ok when the count is within bounds", ProcessProbe::params(),
       ProcessProbe::parse},
      {"load",
       "Open-loop load: requests (or tcp:// connects) at a fixed rate, each one a sample, latency from its scheduled "
       "start",
       LoadProbe::params(), LoadProbe::parse},
      {"metrics",
       "Scrapes a Prometheus/OpenMetrics text endpoint; ok when one series' value (or counter rate) is as expected",
       MetricsProbe::params(), MetricsProbe::parse},
      {"prometheus", "Instant PromQL query against a Prometheus server; ok when the result is as expected",
       PrometheusProbe::params(), PrometheusProbe::parse},
  };
  return table;
}

const ProbeType* find_probe_type(const std::string& name) {
  for (const auto& t : probe_registry())
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace rebound
