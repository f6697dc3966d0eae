// rebound validate: checks experiment and game-day suite files without running anything.
#include <fmt/format.h>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "config/toml_input.hpp"

namespace rebound {
namespace {

std::string counted(size_t n, const char* one, const char* many) { return fmt::format("{} {}", n, n == 1 ? one : many); }

// is_suite_file (config/toml_input.hpp) reads the file with the loader's bounds (regular files only, at
// most 1 MiB, bounded nesting); a file that does not parse is left to the experiment loader, which reports why.
int cmd_validate(const std::vector<std::string>& files, const VarFlags& var_flags) {
  std::vector<std::string> experiments;
  bool suites_valid = true;
  for (const auto& f : files) {
    if (!is_suite_file(f)) {
      experiments.push_back(f);
      continue;
    }
    auto suite = load_suite_or_say(f);
    if (!suite) {
      suites_valid = false;
      continue;
    }
    size_t entries = 0;
    for (const auto& g : suite->groups) entries += g.entries.size();
    std::cout << fmt::format("{}: valid game-day suite ({} groups, {} experiments{})\n", f, suite->groups.size(),
                             entries, suite->schedule ? ", scheduled" : "");
  }
  bool valid = true;
  if (!experiments.empty()) {
    auto vars = collect_vars(var_flags);
    if (!vars) return exit_code(Verdict::error);
    auto loaded = load_all(experiments, valid, *vars);
    for (const auto& l : loaded)
      if (l.result.experiment)
        std::cout << fmt::format("{}: valid ({})\n", l.file,
                                 counted(l.result.experiment->probes.size(), "probe", "probes") + ", " +
                                     counted(l.result.experiment->method.size(), "step", "steps"));
  }
  return valid && suites_valid ? 0 : exit_code(Verdict::error);
}

}  // namespace

Command add_validate_command(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto var_flags = std::make_shared<VarFlags>();
  auto* cmd = app.add_subcommand("validate", "Check experiment and game-day suite files; exit 0 if valid, 4 if not");
  cmd->add_option("files", *files, "experiment or suite files")->required();
  add_var_options(cmd, *var_flags);
  return {cmd, [files, var_flags] { return cmd_validate(*files, *var_flags); }};
}

}  // namespace rebound
