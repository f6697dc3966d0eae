#include "config/templates.hpp"

#include <cstdlib>
#include <fmt/format.h>

namespace rebound {
namespace {

constexpr std::string_view kVar = "var.", kEnv = "env.";

class Substitution {
 public:
  Substitution(const std::map<std::string, std::string>& values, Diagnostics& d, TemplateResult& result)
      : values_(values), d_(d), result_(result) {}

  void walk(toml::node& node, const std::string& path) {
    if (auto* table = node.as_table()) {
      for (auto&& [k, v] : *table) walk(v, path.empty() ? std::string(k.str()) : path + "." + std::string(k.str()));
    } else if (auto* array = node.as_array()) {
      for (size_t i = 0; i < array->size(); ++i) walk(*array->get(i), fmt::format("{}[{}]", path, i));
    } else if (auto* text = node.as_string()) {
      if (auto out = expand(text->get(), node, path)) text->get() = *out;
    }
  }

 private:
  std::optional<std::string> expand(const std::string& text, const toml::node& node, const std::string& path) {
    if (text.find("${") == std::string::npos) return std::nullopt;
    std::string out;
    size_t i = 0;
    for (size_t at; (at = text.find("${", i)) != std::string::npos;) {
      size_t close = text.find('}', at);
      if (close == std::string::npos) break;
      std::string name = text.substr(at + 2, close - at - 2);
      out += text.substr(i, at - i);
      if (auto value = value_of(name, node, path)) out += *value;
      else out += text.substr(at, close + 1 - at);  // not ours (${experiment_dir}, ${step.*}), or an error
      i = close + 1;
    }
    return out + text.substr(i);
  }

  std::optional<std::string> value_of(const std::string& name, const toml::node& node, const std::string& path) {
    const auto& where = node.source().begin;
    if (name.rfind(kVar, 0) == 0) {
      std::string key = name.substr(kVar.size());
      auto it = values_.find(key);
      if (it != values_.end()) {
        result_.values[key] = it->second;
        return it->second;
      }
      d_.error(static_cast<int>(where.line), static_cast<int>(where.column), path,
               fmt::format("${{var.{0}}} is not set: run with --var {0}=VALUE or a --var-file, or give a default "
                           "in [variables] ({0} = \"...\")",
                           clip(key)));
      return std::nullopt;
    }
    if (name.rfind(kEnv, 0) == 0) {
      std::string key = name.substr(kEnv.size());
      const char* value = key.empty() ? nullptr : std::getenv(key.c_str());
      if (value) {
        result_.secrets.emplace_back(value);
        return std::string(value);
      }
      d_.error(static_cast<int>(where.line), static_cast<int>(where.column), path,
               fmt::format("${{env.{0}}}: the environment variable {0} is not set; export it before running rebound",
                           clip(key)));
    }
    return std::nullopt;
  }

  const std::map<std::string, std::string>& values_;
  Diagnostics& d_;
  TemplateResult& result_;
};

// [variables]: defaults, overridden by what the command line gives.
std::map<std::string, std::string> defaults(const toml::table& root, Diagnostics& d) {
  std::map<std::string, std::string> out;
  const toml::table* table = root["variables"].as_table();
  if (!table) {
    if (const toml::node* n = root.get("variables"))
      d.error(static_cast<int>(n->source().begin.line), static_cast<int>(n->source().begin.column), "variables",
              "[variables] must be a table of NAME = \"default value\"");
    return out;
  }
  for (const auto& [k, v] : *table) {
    std::string key(k.str());
    const auto& where = v.source().begin;
    if (!is_variable_name(key))
      d.error(static_cast<int>(where.line), static_cast<int>(where.column), "variables." + clip(key),
              "a variable name uses letters, digits, '_' and '-'");
    else if (auto s = v.value_exact<std::string>()) out[key] = *s;
    else if (auto i = v.value_exact<int64_t>()) out[key] = std::to_string(*i);
    else if (auto b = v.value_exact<bool>()) out[key] = *b ? "true" : "false";
    else
      d.error(static_cast<int>(where.line), static_cast<int>(where.column), "variables." + key,
              fmt::format("a default is a string, an integer or a bool (it replaces ${{var.{}}} in strings)", key));
  }
  return out;
}

}  // namespace

bool is_variable_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::optional<std::pair<std::string, std::string>> parse_var_assignment(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos) return std::nullopt;
  std::string name = text.substr(0, eq);
  if (!is_variable_name(name)) return std::nullopt;
  return std::make_pair(name, text.substr(eq + 1));
}

TemplateResult substitute_templates(toml::table& root, const std::map<std::string, std::string>& given,
                                    Diagnostics& diagnostics) {
  TemplateResult result;
  auto values = defaults(root, diagnostics);
  for (const auto& [k, v] : given) values[k] = v;
  root.erase("variables");
  Substitution(values, diagnostics, result).walk(root, "");
  return result;
}

std::string mask_secrets(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.size() < kMinSecretLength) continue;
    for (size_t at; (at = text.find(secret)) != std::string::npos;) text.replace(at, secret.size(), "***");
  }
  return text;
}

}  // namespace rebound
