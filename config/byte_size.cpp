#include "config/byte_size.hpp"

#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace rebound {

namespace {

struct Unit {
  const char* name;
  double factor;
};
constexpr Unit kUnits[] = {{"B", 1},          {"kB", 1e3},      {"KB", 1e3},      {"KiB", 1024.0},
                           {"MB", 1e6},       {"MiB", 1 << 20}, {"GB", 1e9},      {"GiB", 1 << 30},
                           {"TB", 1e12},      {"TiB", 1099511627776.0}};

// The number at the start of `text` (digits with at most one '.'), and where it ends.
std::optional<double> leading_number(std::string_view text, size_t& end) {
  end = 0;
  bool dot = false;
  while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || (text[end] == '.' && !dot))) {
    dot |= text[end] == '.';
    ++end;
  }
  if (end == 0 || (end == 1 && dot)) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, value);
  if (ec != std::errc() || ptr != text.data() + end || !std::isfinite(value)) return std::nullopt;
  return value;
}

constexpr Unit kBitUnits[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}};

// A number followed by one of `units` (one space allowed between), scaled; nullopt when it is not one or when it
// does not fit in 63 bits.
template <size_t N>
std::optional<double> scaled(std::string_view text, const Unit (&units)[N]) {
  size_t end = 0;
  auto number = leading_number(text, end);
  if (!number) return std::nullopt;
  std::string_view unit = text.substr(end);
  if (unit.starts_with(' ')) unit.remove_prefix(1);
  for (const auto& u : units)
    if (unit == u.name) {
      const double value = std::round(*number * u.factor);
      if (!std::isfinite(value) || value >= 9.2e18) return std::nullopt;
      return value;
    }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_byte_size(std::string_view text) {
  auto bytes = scaled(text, kUnits);
  if (!bytes) return std::nullopt;
  return static_cast<uint64_t>(*bytes);
}

std::optional<double> parse_bit_size(std::string_view text) { return scaled(text, kBitUnits); }

std::string format_bytes(uint64_t bytes) {
  static const char* names[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  int i = 0;
  while (value >= 1024 && i < 3) {
    value /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", value, names[i]);
}

std::optional<SizeOrShare> read_size(TableReader& reader, const std::string& key, const char* percent_of) {
  auto text = reader.string(key);
  if (!text) return std::nullopt;
  SizeOrShare size;
  if (percent_of && text->ends_with('%')) {
    size_t end = 0;
    auto number = leading_number(*text, end);
    if (number && end + 1 == text->size() && *number > 0 && *number <= 100) {
      size.percent = *number;
      return size;
    }
    reader.error(key, fmt::format("'{}' is not a share of {}: write a percentage above 0 and at most 100, such as "
                                  "\"90%\"",
                                  *text, percent_of));
    return std::nullopt;
  }
  size.bytes = parse_byte_size(*text);
  if (!size.bytes) {
    reader.error(key, fmt::format("'{}' is not a size: write a number and a unit such as \"512MiB\", \"100MB\" or "
                                  "\"2GiB\" (B, kB, KiB, MB, MiB, GB, GiB, TB, TiB){}",
                                  *text, percent_of ? fmt::format(", or a share of {} such as \"90%\"", percent_of) : ""));
    return std::nullopt;
  }
  return size;
}

}  // namespace rebound
