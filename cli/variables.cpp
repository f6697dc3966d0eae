#include "cli/variables.hpp"

#include <fmt/format.h>
#include <iostream>

#include "config/templates.hpp"
#include "config/toml_input.hpp"

namespace rebound {
namespace {

// A --var-file: NAME = "value" (or an integer or a bool) at its top level.
bool read_var_file(const std::string& path, std::map<std::string, std::string>& out) {
  Diagnostics d(path);
  auto text = read_input_file(path);
  if (!text) {
    d.error(0, 0, "file", text.error().message);
  } else if (auto root = parse_toml_bounded(*text, path, d)) {
    for (const auto& [k, v] : *root) {
      std::string key(k.str());
      const auto& at = v.source().begin;
      if (!is_variable_name(key))
        d.error(static_cast<int>(at.line), static_cast<int>(at.column), clip(key),
                "a variable name uses letters, digits, '_' and '-'");
      else if (auto s = v.value_exact<std::string>()) out[key] = *s;
      else if (auto i = v.value_exact<int64_t>()) out[key] = std::to_string(*i);
      else if (auto b = v.value_exact<bool>()) out[key] = *b ? "true" : "false";
      else
        d.error(static_cast<int>(at.line), static_cast<int>(at.column), key,
                "a variable's value is a string, an integer or a bool, e.g. url = \"http://127.0.0.1:8080\"");
    }
  }
  std::cerr << d.format_all();
  return d.empty();
}

}  // namespace

void add_var_options(CLI::App* command, VarFlags& flags) {
  command->add_option("--var", flags.assignments, "NAME=VALUE: the value of ${var.NAME} in the files (repeatable)");
  command->add_option("--var-file", flags.file, "a TOML file of NAME = \"VALUE\" lines; --var overrides it");
}

std::optional<std::map<std::string, std::string>> collect_vars(const VarFlags& flags) {
  std::map<std::string, std::string> out;
  if (!flags.file.empty() && !read_var_file(flags.file, out)) return std::nullopt;
  for (const auto& a : flags.assignments) {
    auto pair = parse_var_assignment(a);
    if (!pair) {
      std::cerr << fmt::format("error: --var {}: expected NAME=VALUE, with a NAME of letters, digits, '_' and '-'\n",
                               clip(a));
      return std::nullopt;
    }
    out[pair->first] = pair->second;
  }
  return out;
}

}  // namespace rebound
