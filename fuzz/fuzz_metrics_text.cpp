// libFuzzer target for the Prometheus/OpenMetrics text parser (probes/metrics_text.hpp): what a metrics probe
// reads from a /metrics endpoint it does not control. Built with -DREBOUND_FUZZ=ON like the loader's; run:
//   cmake --build build-fuzz --target rebound-fuzz-metrics-text
//   ./build-fuzz/fuzz/rebound-fuzz-metrics-text -max_total_time=60 -max_len=65536
// A crash, a sanitizer report or a timeout is a bug.
#include <cstdint>
#include <string_view>

#include "probes/metrics_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // Small limits, so that the fuzzer reaches the bounds too.
  rebound::MetricsTextLimits limits;
  limits.max_line = 4096;
  limits.max_labels = 8;
  limits.max_kept = 64;
  auto page = rebound::parse_metrics_text(text, {}, limits);
  if (page)
    for (const auto& s : page->samples) (void)s.labels_text();
  return 0;
}
