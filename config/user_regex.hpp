#pragma once
// Regular expressions that users write (probe expectations, target command lines, and later DNS names and
// HTTP matchers). RE2 syntax, matched in time linear in the input and without recursion on it, with a bound
// on the pattern's length and on the memory its compiled form may take: a backtracking engine turns one
// probe's 40 KB body into a stack overflow, and an exotic pattern into an unbounded compile.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/result.hpp"

namespace re2 {
class RE2;
}

namespace rebound {

class UserRegex {
 public:
  static constexpr size_t kMaxPatternLength = 4096;       // characters
  static constexpr int64_t kMaxProgramMemory = 4 << 20;  // bytes for RE2's compiled program and its DFA cache

  // The compiled pattern, or an error that says what is wrong in RE2's own words (without the pattern,
  // which the caller names by its key).
  [[nodiscard]] static Result<UserRegex> compile(std::string_view pattern);

  // True when some part of the text matches (like grep): anchor with ^ and $ to match all of it.
  bool search(std::string_view text) const;
  // True when the whole text matches.
  bool full_match(std::string_view text) const;
  // How many capturing groups the pattern has, and the first group of the first match (nullopt: no match).
  int groups() const;
  std::optional<std::string> first_group(std::string_view text) const;
  const std::string& pattern() const;

 private:
  explicit UserRegex(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;  // RE2 objects are immutable and thread-safe once built
};

}  // namespace rebound
