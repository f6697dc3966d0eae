// The blast-radius keys of a [[targets]] entry (kept apart from the loader, which reads everything else).
#include "experiments/loader_targets.hpp"

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

}  // namespace rebound
