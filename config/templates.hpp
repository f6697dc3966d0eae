#pragma once
// Parameters of an experiment file: ${var.NAME} from `--var NAME=VALUE`, a `--var-file`, or the file's own
// [variables] defaults (in that order of precedence), and ${env.NAME} from rebound's environment. They are
// replaced in every string of the document before anything else reads it, so a parameter can stand anywhere
// a string can. Values from the environment are secrets: the journal and the reports mask them.
#include <map>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include "config/diagnostics.hpp"

namespace rebound {

struct TemplateResult {
  std::vector<std::string> secrets;           // the values of ${env.*} used, to be masked in reports
  std::map<std::string, std::string> values;  // every ${var.*} and its value, for the journal
};

// Reads and removes [variables], then replaces ${var.NAME} and ${env.NAME} in every string of `root`;
// an unset name is an error at the string that uses it.
TemplateResult substitute_templates(toml::table& root, const std::map<std::string, std::string>& given,
                                    Diagnostics& diagnostics);

// Replaces every occurrence of each secret with "***" (secrets shorter than kMinSecretLength are not masked:
// they would mask ordinary text).
inline constexpr size_t kMinSecretLength = 4;
std::string mask_secrets(std::string text, const std::vector<std::string>& secrets);

// NAME=VALUE from the command line; nullopt when there is no '=' or the name is not [A-Za-z0-9_-]+.
std::optional<std::pair<std::string, std::string>> parse_var_assignment(const std::string& text);
bool is_variable_name(const std::string& name);

}  // namespace rebound
