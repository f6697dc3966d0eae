#pragma once
// --var NAME=VALUE and --var-file FILE: the values of ${var.NAME} in experiment files.
#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rebound {

struct VarFlags {
  std::vector<std::string> assignments;  // NAME=VALUE, in order
  std::string file;
};

void add_var_options(CLI::App* command, VarFlags& flags);
// The file's values, then each --var (a later one wins); nullopt after printing why not.
std::optional<std::map<std::string, std::string>> collect_vars(const VarFlags& flags);

}  // namespace rebound
