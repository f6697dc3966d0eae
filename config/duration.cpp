#include "config/duration.hpp"

#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace rebound {

std::optional<Millis> parse_duration(std::string_view text) {
  size_t unit_at = 0;
  while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    ++unit_at;
  if (unit_at == 0 || unit_at == text.size()) return std::nullopt;
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + unit_at, number);
  if (end != text.data() + unit_at) return std::nullopt;
  if (ec == std::errc::result_out_of_range) number = HUGE_VAL;  // rejected by the caller's bound with the limit
  else if (ec != std::errc()) return std::nullopt;
  std::string_view unit = text.substr(unit_at);
  double factor = 0;
  if (unit == "us") factor = 0.001;
  else if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else return std::nullopt;
  return Millis(number * factor);  // inf * factor stays inf: never wraps
}

std::string format_duration(Millis d) {
  double ms = d.count();
  if (ms >= 60'000 && std::fmod(ms, 60'000) == 0) return fmt::format("{}m", ms / 60'000);
  if (ms >= 1000) return fmt::format("{:g}s", ms / 1000);
  return fmt::format("{:g}ms", ms);
}

}  // namespace rebound
