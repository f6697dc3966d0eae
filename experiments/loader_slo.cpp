#include "experiments/loader_slo.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace rebound {

std::optional<double> read_ratio(TableReader& r, const std::string& key) {
  auto v = r.number(key);
  if (v && (*v < 0 || *v > 1)) {
    r.error(key, fmt::format("{} is not a ratio: use a number from 0 to 1 (e.g. 0.05 for 5%)", *v));
    return std::nullopt;
  }
  return v;
}

namespace {

// heal_within is measured while a lasting fault is applied: one must last at least stable_for for it to be met.
void check_heal_within(TableReader& r, const Experiment& ex) {
  const auto& slo = ex.slo;
  if (!slo.heal_within) return;
  if (slo.heal_within->count() <= 0) {
    r.error("heal_within", "heal_within must be longer than zero, e.g. \"3s\"");
    return;
  }
  std::optional<Millis> longest;
  for (const auto& s : ex.method)
    if (s.type && s.type->kind == StepKind::lasting_fault && s.duration)
      longest = std::max(longest.value_or(Millis(0)), *s.duration);
  if (longest && *longest < slo.stable_for)
    r.error("heal_within",
            fmt::format("heal_within cannot be met: the longest lasting fault lasts {}, shorter than stable_for ({}), "
                        "and healing must hold for stable_for while the fault is applied; make the fault last "
                        "at least heal_within + stable_for ({})",
                        format_duration(*longest), format_duration(slo.stable_for),
                        format_duration(*slo.heal_within + slo.stable_for)));
}

}  // namespace

void parse_slo(TableReader& r, Experiment& ex) {
  auto& slo = ex.slo;
  slo.recover_within = r.duration("recover_within");
  slo.heal_within = r.duration("heal_within");
  if (auto v = r.duration("stable_for")) slo.stable_for = *v;
  slo.observe_for = r.duration("observe_for");
  slo.max_error_ratio = read_ratio(r, "max_error_ratio");
  slo.max_p50 = r.duration("max_p50");
  slo.max_p95 = r.duration("max_p95");
  slo.max_p99 = r.duration("max_p99");
  if (auto v = r.number("max_recovery_regression")) {
    if (*v < 0) r.error("max_recovery_regression", "use a share such as 0.2 for 20% slower than the baseline");
    else slo.max_recovery_regression = *v;
  }
  if (auto v = r.integer("max_trend")) {
    if (*v < 1 || *v > 1000) r.error("max_trend", "use a number of runs from 1 to 1000, such as 10");
    else if (!slo.recover_within && !slo.heal_within)
      r.error("max_trend", "max_trend projects the trend onto recover_within or heal_within: declare one of them");
    else slo.max_trend = static_cast<int>(*v);
  }
  check_heal_within(r, ex);
  r.finish();
}

}  // namespace rebound
