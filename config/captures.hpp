#pragma once
// Values a command captures from its output (capture = { key = "regex with one group" }) for later commands,
// which name them ${step.NAME.key}. The values exist only at run time; the loader checks every reference
// against the captures declared before it, so a reference left here without a value means the capturing
// step did not run or failed.
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "config/result.hpp"

namespace rebound {

class CaptureStore {
 public:
  // ref: "NAME.key"
  void set(const std::string& ref, std::string value);
  std::optional<std::string> get(const std::string& ref) const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> values_;
};

inline constexpr std::string_view kCapturePrefix = "step.";

// Replaces every ${step.NAME.key} in text with its captured value; other text is left as it is.
Result<std::string> expand_captures(const std::string& text, const CaptureStore& store);

}  // namespace rebound
