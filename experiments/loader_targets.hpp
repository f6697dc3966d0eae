#pragma once
// The keys of a [[targets]] entry that the loader hands off: the blast radius (count, percent, pick, seed), and
// the check of `setup = "NAME"` against the [[setup]] steps, which are read after the targets.
#include <string>
#include <vector>

#include "config/command_spec.hpp"
#include "config/table_reader.hpp"
#include "system/targets.hpp"

namespace rebound {

// Reads count / percent / pick / seed into `t`; without a seed, draws one for the whole run.
void parse_blast_radius(TableReader& r, TargetSpec& t);

// The targets of kind setup, remembered where they were written until the [[setup]] steps are known.
class SetupTargetRefs {
 public:
  // Gives `t` the slot the runner fills when the step starts, and remembers where its `setup` key is.
  void add(TableReader& r, size_t index, TargetSpec& t);
  // Each must name a background [[setup]] step (a foreground one has ended before the method starts).
  void check(Diagnostics& d, const std::vector<TargetSpec>& targets, const std::vector<CommandSpec>& setup) const;

 private:
  struct Ref {
    size_t index;  // in Experiment::targets
    int line, column;
    std::string file, key_path;
  };
  std::vector<Ref> refs_;
};

}  // namespace rebound
