#pragma once
// ${name} substitution in strings from an experiment file (paths, argv, URLs). ${var.*} and ${env.*} are
// replaced earlier, in the whole document (config/templates.hpp); ${step.NAME.key}, a value captured at run
// time, is kept as it is where a command may use it and is expanded when the command runs.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "config/captures.hpp"

namespace rebound {

class Variables {
 public:
  void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }
  // The expanded text, or nullopt with `unknown` set to the first unknown variable name. A capture reference
  // that is visible here is kept verbatim when keep_captures is true.
  std::optional<std::string> expand(const std::string& text, std::string& unknown, bool keep_captures = false) const {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, 2, "${") == 0) {
        auto close = text.find('}', i);
        if (close == std::string::npos) return out + text.substr(i);
        std::string name = text.substr(i + 2, close - i - 2);
        auto it = values_.find(name);
        if (it != values_.end()) {
          out += it->second;
        } else if (keep_captures && is_capture(name) && visible_.count(name.substr(kCapturePrefix.size()))) {
          out += text.substr(i, close + 1 - i);
        } else {
          unknown = name;
          return std::nullopt;
        }
        i = close + 1;
      } else {
        out += text[i++];
      }
    }
    return out;
  }
  std::string names() const {
    std::string out;
    for (const auto& [k, v] : values_) out += (out.empty() ? "${" : ", ${") + k + "}";
    return out;
  }

  static bool is_capture(const std::string& name) { return name.rfind(kCapturePrefix, 0) == 0; }
  // The captures ("NAME.key") that the command being read may use: those declared before it.
  void set_visible_captures(std::set<std::string> refs) { visible_ = std::move(refs); }
  const std::set<std::string>& visible_captures() const { return visible_; }
  // Where the values captured during a run are kept; shared by every command of one experiment.
  const std::shared_ptr<CaptureStore>& capture_store() const { return store_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> visible_;
  std::shared_ptr<CaptureStore> store_ = std::make_shared<CaptureStore>();
};

}  // namespace rebound
