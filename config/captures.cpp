#include "config/captures.hpp"

#include <fmt/format.h>

namespace rebound {

void CaptureStore::set(const std::string& ref, std::string value) {
  std::lock_guard lock(mutex_);
  values_[ref] = std::move(value);
}

std::optional<std::string> CaptureStore::get(const std::string& ref) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(ref);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void CaptureStore::clear() {
  std::lock_guard lock(mutex_);
  values_.clear();
}

Result<std::string> expand_captures(const std::string& text, const CaptureStore& store) {
  const std::string open = "${" + std::string(kCapturePrefix);
  std::string out;
  size_t i = 0;
  for (size_t at; (at = text.find(open, i)) != std::string::npos;) {
    size_t close = text.find('}', at);
    if (close == std::string::npos) break;
    std::string ref = text.substr(at + open.size(), close - at - open.size());
    auto value = store.get(ref);
    if (!value)
      return fail(fmt::format("${{step.{}}} has no value: the step that captures it did not run or did not finish",
                              ref));
    out += text.substr(i, at - i) + *value;
    i = close + 1;
  }
  return out + text.substr(i);
}

}  // namespace rebound
