// rebound faults: every step, toxic and probe type with its parameters and defaults, from the registries.
#include <algorithm>
#include <fmt/format.h>
#include <iostream>

#include "cli/commands.hpp"
#include "config/table_reader.hpp"
#include "injectors/network/toxic_proxy.hpp"
#include "injectors/registry.hpp"
#include "probes/registry.hpp"

namespace rebound {
namespace {

// One line per parameter, the name column as wide as the longest name.
void print_params(const std::vector<ParamDoc>& params) {
  size_t width = 8;
  for (const auto& p : params) width = std::max(width, p.name.size());
  for (const auto& p : params)
    std::cout << fmt::format("  {:<{}} {:<20} default {:<14} {}\n", p.name, width, p.type,
                             p.default_value.empty() ? "(required)" : p.default_value, p.description);
}

const char* kind_label(StepKind kind) {
  switch (kind) {
    case StepKind::action: return "action";
    case StepKind::instant_fault: return "fault, instant";
    case StepKind::lasting_fault: return "fault, lasting";
    case StepKind::change: return "change, judged as a fault";
  }
  return "action";
}

void print_step_types() {
  std::cout << "Step types ([[method]] type = ...). Every step also takes: name, start (default \"0s\")";
  std::cout << ", and where noted target and duration.\n";
  std::cout << "Faults also take allow_no_effect (default false): without it, a fault that reached nothing (no packet "
               "affected,\nno connection steered, no process stopped) makes the run inconclusive (exit 2), not passed.\n";
  for (const auto& t : step_registry()) {
    std::string extra;
    if (t.target == TargetRule::required) extra += "target (required)";
    if (t.duration == DurationRule::required) extra += std::string(extra.empty() ? "" : ", ") + "duration (required)";
    if (t.duration == DurationRule::optional) extra += std::string(extra.empty() ? "" : ", ") + "duration (optional)";
    std::cout << fmt::format("\n{}  [{}]\n  {}\n", t.name, kind_label(t.kind), t.summary);
    if (!extra.empty()) std::cout << fmt::format("  needs: {}\n", extra);
    print_params(t.params);
  }
}

void print_toxics() {
  std::cout << "\nToxics (tcp.toxic: toxic = ..., or toxics = [{ toxic = ..., ... }]). Every toxic also takes:";
  std::vector<std::string> common;
  for (const auto& p : toxic_common_params()) common.push_back(fmt::format("{} (default {})", p.name, p.default_value));
  std::cout << fmt::format(" {}.\n", fmt::join(common, ", "));
  for (const auto& t : toxic_registry()) {
    std::cout << fmt::format("\n{}\n  {}\n", t.name, t.summary);
    print_params(t.params);
  }
}

int cmd_faults() {
  print_step_types();
  print_toxics();
  std::cout << "\nProbe types ([[probes]] type = ...). Every probe also takes: name, interval (default \"1s\", "
               "at least \"10ms\"), timeout (default \"1s\").\n";
  for (const auto& t : probe_registry()) {
    std::cout << fmt::format("\n{}\n  {}\n", t.name, t.summary);
    print_params(t.params);
  }
  return 0;
}

}  // namespace

Command add_faults_command(CLI::App& app) {
  return {app.add_subcommand("faults", "List every step and probe type with its parameters and defaults"), cmd_faults};
}

}  // namespace rebound
