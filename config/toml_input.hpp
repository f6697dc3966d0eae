#pragma once
// Reading experiment and suite files safely: regular files only (a FIFO or a device never blocks or
// exhausts memory), at most 1 MiB, and TOML nested no deeper than the parser can take without
// overflowing its stack (toml++ recurses once per dotted-key segment and table level).
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <toml++/toml.h>

#include "config/diagnostics.hpp"
#include "config/result.hpp"

namespace rebound {

inline constexpr size_t kMaxInputFileBytes = 1 << 20;
inline constexpr int kMaxTomlNesting = 100;

// The whole text of a regular file of at most kMaxInputFileBytes, or why not (a directory, a FIFO, too big...).
[[nodiscard]] Result<std::string> read_input_file(const std::string& path);

// Parses TOML text within the bounds above; errors go to `diagnostics` with line and column.
std::optional<toml::table> parse_toml_bounded(std::string_view text, const std::string& path, Diagnostics& diagnostics);

// A game-day suite rather than an experiment: a readable TOML file whose top level has [[groups]].
bool is_suite_file(const std::string& path);

}  // namespace rebound
