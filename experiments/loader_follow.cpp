// The follow keys of a [[method]] step (kept apart from the loader, which reads everything else).
#include "experiments/loader_follow.hpp"

#include <fmt/format.h>

namespace rebound {

namespace {

// Why the step cannot follow its target's new processes, or "" when it can.
std::string why_not(const StepDecl& s, const TargetSpec* target) {
  if (s.type->kind != StepKind::lasting_fault || !s.action || !s.action->follows() || !target)
    return fmt::format("{} cannot follow its target's new processes here (process.stop and the packet network faults "
                       "on a process target can; network.delay, tcp.toxic and faults on an interface cannot)",
                       s.type->name);
  if (target->kind == TargetKind::cgroup)
    return fmt::format("target '{}' is a cgroup: its new processes are in the fault already", target->name);
  if (target->kind == TargetKind::pid)
    return fmt::format("target '{}' names one pid, which a new process never has; name it by exe, cmdline or "
                       "pidfile to follow its restarts",
                       target->name);
  return "";
}

}  // namespace

void parse_follow(TableReader& r, StepDecl& s, const TargetSpec* target) {
  // Read only when given, so that the other steps' lists of known keys stay as they are.
  std::optional<bool> follow;
  if (r.has("follow")) follow = r.boolean("follow");
  std::optional<Millis> interval;
  if (r.has("follow_interval")) interval = r.duration("follow_interval");
  if (!s.type || !s.action) return;  // the step's own errors are reported already
  const std::string why = why_not(s, target);
  if (follow && *follow && !why.empty()) r.error("follow", fmt::format("{}; remove follow", why));
  if (interval) {
    if (follow && !*follow) r.error("follow_interval", "follow_interval has no effect with follow = false; remove it");
    else if (!why.empty() && !follow) r.error("follow_interval", fmt::format("{}; remove follow_interval", why));
    else if (interval->count() < 10) r.error("follow_interval", "follow_interval must be at least 10ms");
    s.follow_interval = *interval;
  }
  s.follow = follow.value_or(true) && why.empty();
}

}  // namespace rebound
