#pragma once
// ${name} substitution in strings from an experiment file (paths, argv, URLs).
#include <map>
#include <optional>
#include <string>

namespace rebound {

class Variables {
 public:
  void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }
  // The expanded text, or nullopt with `unknown` set to the first unknown variable name.
  std::optional<std::string> expand(const std::string& text, std::string& unknown) const {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, 2, "${") == 0) {
        auto close = text.find('}', i);
        if (close == std::string::npos) return out + text.substr(i);
        std::string name = text.substr(i + 2, close - i - 2);
        auto it = values_.find(name);
        if (it == values_.end()) {
          unknown = name;
          return std::nullopt;
        }
        out += it->second;
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

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace rebound
