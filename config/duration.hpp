#pragma once
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rebound {

using Millis = std::chrono::duration<double, std::milli>;

// The longest duration an experiment may name: 30 days. Every duration read from a file is at most this, so
// sums of a few of them stay far inside what clocks and integer conversions hold.
inline constexpr Millis kMaxDuration{30.0 * 24 * 3'600'000};

// Parses "250ms", "5s", "1.5s", "2m", "1h"; nullopt when the text has no known unit. A number too large for
// a double gives an infinite duration (callers compare against kMaxDuration).
std::optional<Millis> parse_duration(std::string_view text);

// A duration as a clock's duration type, clamped to [0, a century] so that no conversion overflows.
template <class ClockDuration>
ClockDuration to_clock_duration(Millis d) {
  constexpr Millis kCentury{100.0 * 365 * 24 * 3'600'000};
  if (!(d.count() > 0)) return ClockDuration::zero();  // also NaN
  return std::chrono::duration_cast<ClockDuration>(std::min(d, kCentury));
}

// "1.25s", "250ms", "2m": the shortest exact way to say a duration.
std::string format_duration(Millis d);

}  // namespace rebound
