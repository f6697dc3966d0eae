#include "config/table_reader.hpp"

#include <fmt/format.h>
#include <cmath>
#include <sstream>

namespace rebound {

static std::string node_text(const toml::node& n) {
  std::ostringstream value;
  n.visit([&](auto&& v) { value << v; });
  return value.str();
}

std::string describe_node(const toml::node& n) {
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  std::string name;
  switch (n.type()) {
    case toml::node_type::string: name = "string"; break;
    case toml::node_type::integer: name = "integer"; break;
    case toml::node_type::floating_point: name = "float"; break;
    case toml::node_type::boolean: name = "boolean"; break;
    default: name = "date/time"; break;
  }
  return fmt::format("{} {}", name, clip(node_text(n)));
}

TableReader::TableReader(const toml::table& table, std::string path, Diagnostics& diagnostics)
    : table_(table), path_(std::move(path)), diagnostics_(diagnostics) {}

std::string TableReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void TableReader::error(const std::string& key, const std::string& message) {
  const toml::node* n = table_.get(key);
  const auto& where = n ? n->source().begin : table_.source().begin;
  diagnostics_.error(static_cast<int>(where.line), static_cast<int>(where.column), key_path(key), message);
}

void TableReader::type_error(const std::string& key, const toml::node& n, const char* expected) {
  error(key, fmt::format("expected {}, got {}", expected, describe_node(n)));
}

const toml::node* TableReader::lookup(const std::string& key, bool required, const char* expected) {
  known_.insert(key);
  const toml::node* n = table_.get(key);
  if (!n && required) error(key, fmt::format("missing required key (add {} = <{}>)", key, expected));
  return n;
}

std::optional<std::string> TableReader::string(const std::string& key, bool required) {
  const toml::node* n = lookup(key, required, "a string");
  if (!n) return std::nullopt;
  if (auto v = n->value<std::string>(); v && n->is_string()) return *v;
  type_error(key, *n, "a string");
  return std::nullopt;
}

std::optional<int64_t> TableReader::integer(const std::string& key, bool required) {
  const toml::node* n = lookup(key, required, "an integer");
  if (!n) return std::nullopt;
  if (n->is_integer()) return n->value<int64_t>();
  type_error(key, *n, "an integer");
  return std::nullopt;
}

std::optional<double> TableReader::number(const std::string& key, bool required) {
  const toml::node* n = lookup(key, required, "a number");
  if (!n) return std::nullopt;
  if (n->is_number()) {
    const double v = *n->value<double>();
    if (std::isfinite(v)) return v;
    error(key, fmt::format("expected a finite number, got {}; nan and inf are not allowed", node_text(*n)));
    return std::nullopt;
  }
  type_error(key, *n, "a number");
  return std::nullopt;
}

std::optional<bool> TableReader::boolean(const std::string& key) {
  const toml::node* n = lookup(key, false, "true or false");
  if (!n) return std::nullopt;
  if (n->is_boolean()) return n->value<bool>();
  type_error(key, *n, "true or false");
  return std::nullopt;
}

std::optional<Millis> TableReader::duration(const std::string& key, bool required) {
  const toml::node* n = lookup(key, required, "a duration such as \"5s\"");
  if (!n) return std::nullopt;
  if (n->is_number()) {
    const std::string v = clip(node_text(*n), 20);
    error(key, fmt::format("a duration needs a unit: write \"{}s\" or \"{}ms\" (units: us, ms, s, m, h)", v, v));
    return std::nullopt;
  }
  if (!n->is_string()) {
    type_error(key, *n, "a duration string such as \"250ms\" or \"5s\"");
    return std::nullopt;
  }
  std::string text = *n->value<std::string>();
  auto d = parse_duration(text);
  if (!d) {
    error(key, fmt::format("'{}' is not a duration: write a number and a unit, such as \"250ms\", \"5s\" or "
                           "\"2m\" (units: us, ms, s, m, h)",
                           clip(text)));
    return std::nullopt;
  }
  if (d->count() < 0) {
    error(key, "a duration cannot be negative");
    return std::nullopt;
  }
  if (!(*d <= kMaxDuration)) {
    error(key, fmt::format("'{}' is longer than the limit of 30 days (\"720h\"); use a shorter duration", clip(text)));
    return std::nullopt;
  }
  return d;
}

std::optional<std::vector<std::string>> TableReader::strings(const std::string& key, bool required) {
  const toml::node* n = lookup(key, required, "an array of strings");
  if (!n) return std::nullopt;
  const toml::array* a = n->as_array();
  if (!a) {
    type_error(key, *n, "an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : *a) {
    if (!item.is_string()) {
      type_error(key, item, "an array of strings");
      return std::nullopt;
    }
    out.push_back(*item.value<std::string>());
  }
  return out;
}

std::optional<std::vector<int64_t>> TableReader::integers(const std::string& key) {
  const toml::node* n = lookup(key, false, "an array of integers");
  if (!n) return std::nullopt;
  std::vector<int64_t> out;
  if (n->is_integer()) return std::vector<int64_t>{*n->value<int64_t>()};
  const toml::array* a = n->as_array();
  if (!a) {
    type_error(key, *n, "an array of integers");
    return std::nullopt;
  }
  for (const auto& item : *a) {
    if (!item.is_integer()) {
      type_error(key, item, "an array of integers");
      return std::nullopt;
    }
    out.push_back(*item.value<int64_t>());
  }
  return out;
}

const toml::table* TableReader::table(const std::string& key) {
  const toml::node* n = lookup(key, false, "a table");
  if (!n) return nullptr;
  if (auto* t = n->as_table()) return t;
  type_error(key, *n, "a table");
  return nullptr;
}

const toml::array* TableReader::array(const std::string& key) {
  const toml::node* n = lookup(key, false, "an array");
  if (!n) return nullptr;
  if (auto* a = n->as_array()) return a;
  type_error(key, *n, "an array");
  return nullptr;
}

const toml::node* TableReader::node(const std::string& key) { return lookup(key, false, "a value"); }

void TableReader::finish() {
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto& [k, v] : table_) {
    std::string key(k.str());
    if (known_.count(key)) continue;
    const auto& where = k.source().begin.line ? k.source().begin : v.source().begin;
    std::string message = "unknown key" + did_you_mean(key, known);
    if (message == "unknown key")
      message += known.empty() ? "" : fmt::format(" (known keys here: {})", fmt::join(known, ", "));
    diagnostics_.error(static_cast<int>(where.line), static_cast<int>(where.column), key_path(key), message);
  }
}

}  // namespace rebound
