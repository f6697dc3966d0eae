#pragma once
// Reads one TOML table into typed values, records every error with its position,
// and reports keys nobody asked for as unknown (with a suggestion).
#include <optional>
#include <set>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/duration.hpp"

namespace rebound {

// One key of a table, for `rebound faults` and the docs.
struct ParamDoc {
  std::string name;
  std::string type;
  std::string default_value;  // "" when required
  std::string description;
};

class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, Diagnostics& diagnostics);

  std::optional<std::string> string(const std::string& key, bool required = false);
  std::optional<int64_t> integer(const std::string& key, bool required = false);
  std::optional<double> number(const std::string& key, bool required = false);
  std::optional<bool> boolean(const std::string& key);
  std::optional<Millis> duration(const std::string& key, bool required = false);
  std::optional<std::vector<std::string>> strings(const std::string& key, bool required = false);
  std::optional<std::vector<int64_t>> integers(const std::string& key);
  const toml::table* table(const std::string& key);
  const toml::array* array(const std::string& key);
  // The raw node, for keys that accept several types ("all" or a count).
  const toml::node* node(const std::string& key);
  bool has(const std::string& key) const { return table_.contains(key); }

  // Errors about a key of this table, positioned at the key's value (or the table).
  void error(const std::string& key, const std::string& message);
  // Reports every key that was not read. Call once, after all reads.
  void finish();

  std::string key_path(const std::string& key) const;
  const std::string& path() const { return path_; }
  Diagnostics& diagnostics() { return diagnostics_; }

 private:
  const toml::node* lookup(const std::string& key, bool required, const char* expected);
  void type_error(const std::string& key, const toml::node& n, const char* expected);

  const toml::table& table_;
  std::string path_;
  Diagnostics& diagnostics_;
  std::set<std::string> known_;
};

std::string describe_node(const toml::node& n);

}  // namespace rebound
