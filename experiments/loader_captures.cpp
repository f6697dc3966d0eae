#include "experiments/loader_captures.hpp"

namespace rebound {

CaptureScope::CaptureScope(const toml::table& root) : setup_(scan(root, "setup")), method_(scan(root, "method")) {}

CaptureScope::PerEntry CaptureScope::scan(const toml::table& root, const char* key) {
  PerEntry out;
  const toml::array* entries = root[key].as_array();
  if (!entries) return out;
  for (const auto& entry : *entries) {
    std::set<std::string> refs;
    const toml::table* t = entry.as_table();
    auto name = t ? (*t)["name"].value<std::string>() : std::nullopt;
    const toml::table* capture = t ? (*t)["capture"].as_table() : nullptr;
    if (name && capture)
      for (const auto& [k, v] : *capture) refs.insert(*name + "." + std::string(k.str()));
    out.push_back(std::move(refs));
  }
  return out;
}

std::set<std::string> CaptureScope::before(const PerEntry& entries, size_t index, std::set<std::string> out) {
  for (size_t i = 0; i < index && i < entries.size(); ++i) out.insert(entries[i].begin(), entries[i].end());
  return out;
}

std::set<std::string> CaptureScope::for_cleanup() const {
  auto out = all(setup_);
  auto steps = all(method_);
  out.insert(steps.begin(), steps.end());
  return out;
}

}  // namespace rebound
