// The load probe's benchmark (issue 14), printing numbers, asserting nothing: at each rate, for a duration,
// against a URL (bench/load_bench.sh starts nginx and compares with wrk), the achieved rate of requests sent,
// the latency the probe reports from the scheduled start, the generator's CPU share of one core, and the RSS.
// `rebound_load_bench URL SECONDS RATE...`
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <thread>

#include "experiments/analysis.hpp"
#include "experiments/loader.hpp"
#include "experiments/sampler.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return -1;
}

void run(const std::string& url, int seconds, double rate) {
  const std::string text = "name = \"bench\"\n[[probes]]\nname = \"load\"\ntype = \"load\"\nrate = \"" +
                           std::to_string(static_cast<long>(rate)) + "/s\"\nurl = \"" + url +
                           "\"\ntimeout = \"2s\"\npool_size = 100\n";
  auto loaded = rebound::load_experiment_text(text, "bench.toml", rebound::LoadOptions{"/opt/rebound"});
  if (!loaded.experiment) {
    for (const auto& d : loaded.diagnostics.items()) std::fprintf(stderr, "%s\n", d.format().c_str());
    return;
  }
  const double cpu_before = cpu_seconds();
  auto epoch = std::chrono::steady_clock::now();
  rebound::Sampler sampler(loaded.experiment->probes[0], epoch);
  sampler.start();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  sampler.stop();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch).count();
  const double cpu = cpu_seconds() - cpu_before;
  auto series = sampler.snapshot();
  // Only whole seconds of schedule: the requests whose scheduled start lies in [0, seconds).
  auto stats = rebound::phase_stats({&series}, 0, seconds * 1000.0);
  const double achieved = static_cast<double>(stats.samples) / seconds;
  std::printf("rebound load  %6.0f/s: %8zu requests in %d s = %8.1f/s (%+.2f%%), %zu failed, p50 %.3f ms, p99 %.3f "
              "ms, CPU %.0f%% of one core, %zu buckets, RSS %ld KiB (peak %ld KiB; target under 50 MiB)\n",
              rate, stats.samples, seconds, achieved, (achieved / rate - 1) * 100, stats.failures,
              stats.p50.value_or(-1), stats.p99.value_or(-1), cpu / wall * 100, series.samples.size(),
              status_kb("VmRSS:"), status_kb("VmHWM:"));
  if (!series.failed_requests.empty())
    std::printf("  first failure at %.0f ms: %s; last kept: %s\n", series.failed_requests.front().t_ms,
                series.failed_requests.front().reason.c_str(), series.failed_requests.back().reason.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URL SECONDS RATE...\n", argv[0]);
    return 2;
  }
  for (int i = 3; i < argc; ++i) run(argv[1], std::stoi(argv[2]), std::stod(argv[i]));
  return 0;
}
