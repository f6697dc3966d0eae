// A lasting fault that follows its target (`follow`): while it lasts, its target is resolved again every
// follow_interval and the processes that appeared since (a supervisor's restart, a pre-fork server's new worker)
// are handed to the fault (StepAction::extend), which records them before it reaches them. Where the kernel's
// proc connector gives process events, a fork or exec brings the next look forward. The target's bound
// holds: a follow never makes the fault cover more live processes than the target selected at its start (its
// count or percent), or than max_targets.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <unistd.h>

#include "experiments/runner_impl.hpp"
#include "system/proc_events.hpp"

namespace rebound {

namespace {

// No look this close to the fault's end: the end stays on time.
constexpr double kFollowMarginMs = 20;
// After a fork or exec, the next look comes at once, but at most every kEventGapMs (a busy host forks often).
constexpr double kEventGapMs = 50;
// How long one wait for process events lasts at most: an abort is seen within it.
constexpr double kEventSliceMs = 10;

// How long the process had been running (ms), from its start time in /proc (clock ticks since boot).
int64_t age_ms(const ProcessInfo& p) {
  timespec now{};
  clock_gettime(CLOCK_BOOTTIME, &now);
  const int64_t now_ms = int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
  return now_ms - static_cast<int64_t>(p.start_time * 1000 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
}

// The parent's pid from /proc/PID/stat (the field after the state letter), or 0.
pid_t parent_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 1));
  char state = 0;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

}  // namespace

struct Runner::FollowState {
  const TargetSpec* target = nullptr;
  std::set<std::pair<pid_t, uint64_t>> seen;  // every process matched so far, covered or not
  std::vector<ProcessInfo> covered;           // the processes the fault was given
  size_t bound = 0;                           // at most this many of them alive at once
  std::string last_error;                     // the last failure to resolve or extend, logged once
};

bool Runner::wait_lasting(const StepDecl& decl, StepRecord& rec, StepContext& context, double deadline_ms) {
  if (!decl.follow || decl.target.empty()) return wait_abort_until(deadline_ms);
  FollowState state;
  state.target = ex_.find_target(decl.target);
  for (const auto& p : context.matched) state.seen.insert({p.pid, p.start_time});
  for (const auto& p : context.processes) state.seen.insert({p.pid, p.start_time});
  state.covered = context.processes;
  const bool drawn = state.target->count || state.target->percent;
  state.bound = drawn ? context.processes.size() : static_cast<size_t>(state.target->max_targets);
  auto events = ProcEvents::open();  // where the kernel gives process events; else polling alone
  log_at(now_ms(), fmt::format("step {} follows target {}: every {}{}", decl.name, decl.target,
                               format_duration(decl.follow_interval),
                               events ? " and at each fork or exec (proc connector)" : ""));
  const double interval = decl.follow_interval.count();
  double last = now_ms();
  bool pending = false;  // a process forked or exec'd since the last look
  for (;;) {
    const double stop = deadline_ms - kFollowMarginMs;  // no look after this: the end stays on time
    const double due = std::min(pending ? last + std::min(interval, kEventGapMs) : last + interval, stop);
    const double now = now_ms();
    if (now >= stop) return wait_abort_until(deadline_ms);
    if (now < due) {
      if (!events) {
        if (wait_abort_until(due)) return true;
      } else {
        pending = events->wait(static_cast<int>(std::ceil(std::min(due - now, kEventSliceMs)))) || pending;
        if (abort_) return true;
      }
      continue;
    }
    follow_tick(decl, rec, context, state);
    last = now_ms();
    pending = false;
  }
}

void Runner::follow_tick(const StepDecl& decl, StepRecord& rec, StepContext& context, FollowState& state) {
  auto matched = match_target(*state.target);
  if (!matched) {
    if (matched.error().message != state.last_error)
      log_at(now_ms(), fmt::format("step {}: cannot follow target {}: {}", decl.name, decl.target,
                                   state.last_error = matched.error().message));
    return;
  }
  // A child of a process in the fault (a shell's subshell, a worker forked by a frozen or cut-off master) is
  // not new: it is in the fault's cgroup from its birth, and a frozen process forks nothing.
  std::set<pid_t> inside;
  for (const auto& p : state.covered) inside.insert(p.pid);
  std::vector<ProcessInfo> newcomers;
  for (const auto& p : *matched)
    if (state.seen.insert({p.pid, p.start_time}).second && !inside.count(parent_of(p.pid))) newcomers.push_back(p);
  if (newcomers.empty()) return;
  const auto live = static_cast<size_t>(std::count_if(state.covered.begin(), state.covered.end(), [](const auto& p) {
    return process_is(p.pid, p.start_time);
  }));
  const size_t room = state.bound > live ? state.bound - live : 0;
  if (newcomers.size() > room) {
    std::vector<pid_t> left;
    for (size_t i = room; i < newcomers.size(); ++i) left.push_back(newcomers[i].pid);
    newcomers.resize(room);
    log_at(now_ms(), fmt::format("step {}: new pid {} of target {} not followed: the fault covers {} live process(es) "
                                 "already, the target's bound",
                                 decl.name, fmt::join(left, ", "), decl.target, live));
  }
  if (newcomers.empty()) return;
  Result<std::vector<ProcessInfo>> reached = fail("not extended");
  try {
    reached = decl.action->extend(context, newcomers);
  } catch (const std::exception& e) {
    reached = fail(e.what());
  }
  const double at = now_ms();
  if (!reached) {
    log_at(at, fmt::format("step {}: could not follow target {}: {}", decl.name, decl.target, reached.error().message));
    context.detail["follow_error"] = reached.error().message;
  }
  std::vector<std::string> lines;
  for (const auto& p : reached ? *reached : std::vector<ProcessInfo>{}) {
    state.covered.push_back(p);
    context.detail["followed"].push_back({{"pid", p.pid}, {"comm", p.comm}, {"at_ms", at}, {"age_ms", age_ms(p)}});
    lines.push_back(fmt::format("pid {} ({}, started {} ms before)", p.pid, p.comm, age_ms(p)));
  }
  context.detail["followed_processes"] = context.detail.value("followed", nlohmann::json::array()).size();
  update_step([&] { rec.detail = context.detail; });
  if (!lines.empty())
    log_at(at, fmt::format("step {} followed target {} to {}", decl.name, decl.target, fmt::join(lines, ", ")));
}

}  // namespace rebound
