#pragma once
// Which ${step.NAME.key} each command may use: the captures declared before it. Setup commands see earlier
// setup captures; method steps every setup capture and earlier steps' (file order); probes the setup captures
// (they sample before the method starts); rollbacks and teardown all of them.
#include <set>
#include <string>
#include <toml++/toml.h>
#include <vector>

namespace rebound {

class CaptureScope {
 public:
  explicit CaptureScope(const toml::table& root);
  std::set<std::string> for_setup(size_t index) const { return before(setup_, index, {}); }
  std::set<std::string> for_method(size_t index) const { return before(method_, index, all(setup_)); }
  std::set<std::string> for_probes() const { return all(setup_); }
  std::set<std::string> for_cleanup() const;

 private:
  using PerEntry = std::vector<std::set<std::string>>;  // "NAME.key" declared by each entry, in file order
  static PerEntry scan(const toml::table& root, const char* key);
  static std::set<std::string> all(const PerEntry& entries) { return before(entries, entries.size(), {}); }
  static std::set<std::string> before(const PerEntry& entries, size_t index, std::set<std::string> out);

  PerEntry setup_, method_;
};

}  // namespace rebound
