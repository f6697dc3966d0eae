#include "experiments/progress.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace rebound {

void Progress::clear() {
  for (int i = 0; i < drawn_lines_; ++i) std::fputs("\x1b[1A\x1b[2K", stderr);
  drawn_lines_ = 0;
}

void Progress::emit(spdlog::level::level_enum level, const std::string& line) {
  if (!live_) {
    spdlog::log(level, "{}", line);
    return;
  }
  clear();
  std::fprintf(stderr, "%s%s\n", level >= spdlog::level::warn ? "warning: " : "", line.c_str());
}

void Progress::event(const std::string& line) { emit(spdlog::level::info, line); }
void Progress::warning(const std::string& line) { emit(spdlog::level::warn, line); }

void Progress::update(const ProgressState& s) {
  if (!live_) return;
  clear();
  std::string out = fmt::format("\x1b[1m{}\x1b[0m  phase \x1b[36m{}\x1b[0m  {:.1f}s (at most ~{:.1f}s)\n", s.experiment, s.phase,
                                s.elapsed_ms / 1000, s.planned_ms / 1000);
  int lines = 1;
  for (const auto& p : s.probes) {
    std::string state = !p.has_sample ? "\x1b[2mwaiting\x1b[0m"
                        : p.ok        ? fmt::format("\x1b[32mok\x1b[0m   {:7.1f}ms", p.latency_ms)
                                      : fmt::format("\x1b[31mfail\x1b[0m {:7.1f}ms  {}", p.latency_ms, p.reason);
    out += fmt::format("  probe {:<16} {:<8} {:>6} samples {:>5} failed  {}\n", p.name, p.type, p.samples, p.failures,
                       state);
    ++lines;
  }
  out += fmt::format("  active faults: {}\n", s.active_faults.empty() ? "none" : fmt::format("{}", fmt::join(s.active_faults, ", ")));
  ++lines;
  std::fputs(out.c_str(), stderr);
  drawn_lines_ = lines;
}

void Progress::finish() {
  if (live_) clear();
}

}  // namespace rebound
