#pragma once
// Lenient field reads for the report renderers, which take journals of any schema version: a missing or
// wrong-typed field is empty, never an exception.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace rebound::json_fields {

inline std::string str(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

inline std::optional<double> num(const nlohmann::json& j, const char* key) {
  if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

}  // namespace rebound::json_fields
