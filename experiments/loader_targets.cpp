// The blast-radius keys of a [[targets]] entry (kept apart from the loader, which reads everything else).
#include "experiments/loader_targets.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <random>

namespace rebound {

// count / percent / pick / seed: how many of the matching processes the target selects, and how.
void parse_blast_radius(TableReader& r, TargetSpec& t) {
  if (auto count = r.integer("count")) {
    if (*count < 1) r.error("count", "count must be at least 1 (the number of matching processes to select)");
    t.count = *count;
  }
  if (auto percent = r.number("percent")) {
    if (!(*percent > 0 && *percent <= 100)) r.error("percent", "percent must be more than 0 and at most 100");
    t.percent = *percent;
  }
  if (t.count && t.percent) r.error("percent", "a target takes count or percent, not both");
  const bool drawn = t.count || t.percent;
  if (auto pick = r.string("pick")) {
    if (*pick == "lowest_pids") t.pick = TargetPick::lowest_pids;
    else if (*pick != "random") r.error("pick", "pick must be \"random\" or \"lowest_pids\"");
    if (!drawn) r.error("pick", "pick chooses among the matching processes: it needs count or percent");
  }
  if (auto seed = r.integer("seed")) {
    if (*seed < 0) r.error("seed", "seed must be 0 or more");
    if (!drawn) r.error("seed", "seed repeats a random draw: it needs count or percent");
    t.seed = static_cast<uint64_t>(*seed);
    t.seed_given = true;
  } else {
    // One seed for the whole run, so that every step draws the same processes; the journal records it.
    t.seed = std::random_device{}() & 0x7fffffff;
  }
}

void SetupTargetRefs::add(TableReader& r, size_t index, TargetSpec& t) {
  t.setup_process = std::make_shared<SetupProcessSlot>();
  const toml::node* n = r.node("setup");
  if (!n || t.value.empty()) return;  // its own error is reported already
  const auto& where = n->source().begin;
  refs_.push_back({index, static_cast<int>(where.line), static_cast<int>(where.column), r.diagnostics().file(),
                   r.key_path("setup")});
}

namespace {

// What follows "no background [[setup]] step named 'X'": a near name, the names there are, or what to add.
std::string background_steps_hint(const std::string& name, const std::vector<CommandSpec>& setup) {
  std::vector<std::string> background;
  for (const auto& s : setup)
    if (s.background && !s.name.empty()) background.push_back(s.name);
  const std::string suggestion = did_you_mean(name, background);
  if (!suggestion.empty()) return suggestion;
  if (background.empty())
    return "; add a [[setup]] step with that name and background = true, which starts the process";
  return fmt::format(" (background setup steps: {})", fmt::join(background, ", "));
}

}  // namespace

void SetupTargetRefs::check(Diagnostics& d, const std::vector<TargetSpec>& targets,
                            const std::vector<CommandSpec>& setup) const {
  const std::string own_file = d.file();
  for (const auto& ref : refs_) {
    if (ref.index >= targets.size()) continue;
    const std::string& name = targets[ref.index].value;
    auto step = std::find_if(setup.begin(), setup.end(), [&](const CommandSpec& s) { return s.name == name; });
    if (step != setup.end() && step->background) continue;
    d.set_file(ref.file);
    if (step != setup.end())
      d.error(ref.line, ref.column, ref.key_path,
              fmt::format("setup step '{}' runs in the foreground, so its process has ended before the method "
                          "starts; add background = true to it (and a ready_probe), or find the process by exe or "
                          "cmdline",
                          name));
    else
      d.error(ref.line, ref.column, ref.key_path,
              fmt::format("no background [[setup]] step named '{}'{}", name, background_steps_hint(name, setup)));
  }
  d.set_file(own_file);
}

}  // namespace rebound
