#include "config/user_regex.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

namespace rebound {

Result<UserRegex> UserRegex::compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternLength)
    return fail(fmt::format("the pattern is {} characters long; patterns are limited to {} characters",
                            pattern.size(), kMaxPatternLength));
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxProgramMemory);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    if (re->error_code() == RE2::ErrorPatternTooLarge)
      return fail("the pattern is too complex (its compiled form exceeds the memory limit); simplify it");
    return fail(fmt::format("invalid regular expression (RE2 syntax): {}", re->error()));
  }
  return UserRegex(std::move(re));
}

bool UserRegex::search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool UserRegex::full_match(std::string_view text) const {
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

int UserRegex::groups() const { return re_->NumberOfCapturingGroups(); }

std::optional<std::string> UserRegex::first_group(std::string_view text) const {
  std::string group;
  if (!RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_, &group)) return std::nullopt;
  return group;
}

const std::string& UserRegex::pattern() const { return re_->pattern(); }

}  // namespace rebound
