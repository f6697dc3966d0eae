#pragma once
// Sentences and times that the Markdown and HTML reports of one run share, so both say the same thing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "experiments/analysis.hpp"  // failure_causes_text

namespace rebound {

// "2026-11-28T17:06:16.123Z" (a journal's started_at) as milliseconds since the epoch; nullopt if unreadable.
std::optional<int64_t> parse_utc_ms(const std::string& iso8601);
// The wall-clock time of an offset into the run, "17:06:17.623" (UTC, like started_at); "" without a start.
std::string wall_clock(const std::string& started_at, double offset_ms);
// "1234.5 ms (17:06:17.623 UTC)": an offset and its wall-clock time, or just the offset.
std::string offset_and_clock(const std::string& started_at, std::optional<double> offset_ms);

// A guard's condition: "more than 50% of its samples fail within 1.0 s (at least 3 samples)".
std::string guard_condition_text(double max_failure_ratio, double window_ms, size_t min_samples);

// Why a phase holds no sample: "no sample fell in this phase: it lasted 12 ms, shorter than the probe
// interval 500 ms" (`interval_ms` 0: unknown).
std::string empty_phase_text(double lasted_ms, double interval_ms);

// A time to recover that is missing: "did not recover", or "not measured (run interrupted)" when the run was
// interrupted before recovery could be watched.
std::string not_recovered_text(const std::string& status);

// How many failed requests the reports list one by one (the first ones).
inline constexpr size_t kFailedRequestsListed = 10;

// The column head that counts a phase's samples: "requests" when every one counted is a load probe's request.
const char* phase_count_head(bool all_requests);

}  // namespace rebound
