#include "reports/report_text.hpp"

#include <cstdio>
#include <ctime>
#include <fmt/format.h>

namespace rebound {

std::optional<int64_t> parse_utc_ms(const std::string& iso8601) {
  std::tm tm{};
  int ms = 0;
  char zone = 0;
  if (std::sscanf(iso8601.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms, &zone) != 8 ||
      zone != 'Z')
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string wall_clock(const std::string& started_at, double offset_ms) {
  auto start = parse_utc_ms(started_at);
  if (!start) return "";
  const int64_t at = *start + static_cast<int64_t>(offset_ms + 0.5);
  const std::time_t secs = static_cast<std::time_t>(at / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, at % 1000);
}

std::string offset_and_clock(const std::string& started_at, std::optional<double> offset_ms) {
  if (!offset_ms) return "–";
  std::string clock = wall_clock(started_at, *offset_ms);
  return clock.empty() ? fmt::format("{:.1f} ms", *offset_ms) : fmt::format("{:.1f} ms ({} UTC)", *offset_ms, clock);
}

std::string guard_condition_text(double max_failure_ratio, double window_ms, size_t min_samples) {
  return fmt::format("more than {:.0f}% of its samples fail within {:.1f} s (at least {} samples)",
                     max_failure_ratio * 100, window_ms / 1000, min_samples);
}

std::string empty_phase_text(double lasted_ms, double interval_ms) {
  if (interval_ms > 0 && lasted_ms < interval_ms)
    return fmt::format("no sample fell in this phase: it lasted {:.0f} ms, shorter than the probe interval {:.0f} ms",
                       lasted_ms, interval_ms);
  return fmt::format("no sample fell in this phase (it lasted {:.0f} ms)", lasted_ms);
}

std::string not_recovered_text(const std::string& status) {
  return status == "interrupted" ? "not measured (run interrupted)" : "did not recover";
}

const char* phase_count_head(bool all_requests) { return all_requests ? "requests" : "samples"; }

}  // namespace rebound
