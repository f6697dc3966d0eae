#pragma once
// Sizes as users write them in experiment files: "512MiB", "100MB", "1.5GiB", and shares such as "90%".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/table_reader.hpp"

namespace rebound {

// Bytes for a number and a unit (B, kB/KB, KiB, MB, MiB, GB, GiB, TB, TiB); nullopt when it is not one or when it
// does not fit in 63 bits.
std::optional<uint64_t> parse_byte_size(std::string_view text);
// Bits for a number and a bit unit (bit, kbit, mbit, gbit: rates are written so); nullopt when it is not one.
std::optional<double> parse_bit_size(std::string_view text);
// "1.5 GiB", "100.0 MiB", "512 B": for messages and reports.
std::string format_bytes(uint64_t bytes);

// A key that takes a size, or (when `percent_of` names what it is a share of) a share such as "90%".
struct SizeOrShare {
  std::optional<uint64_t> bytes;
  std::optional<double> percent;  // in (0, 100]
};
// nullopt when the key is absent or after recording an error at it.
std::optional<SizeOrShare> read_size(TableReader& reader, const std::string& key, const char* percent_of = nullptr);

}  // namespace rebound
