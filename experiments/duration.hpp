#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace rebound {

using Millis = std::chrono::duration<double, std::milli>;

// Parses "250ms", "5s", "1.5s", "2m", "1h"; nullopt when the text has no known unit.
std::optional<Millis> parse_duration(std::string_view text);

// "1.25s", "250ms", "2m": the shortest exact way to say a duration.
std::string format_duration(Millis d);

}  // namespace rebound
