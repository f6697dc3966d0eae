// The method: one thread per step, each waits for its start, applies its fault or action, reverts a lasting fault
// after its duration or at an abort; guards watch the probes meanwhile.
#include <algorithm>
#include <fmt/format.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <thread>

#include "experiments/runner_impl.hpp"
#include "system/signals.hpp"

namespace rebound {

void Runner::trigger_abort() {
  {
    std::lock_guard lock(abort_mutex_);
    abort_ = true;
  }
  abort_cv_.notify_all();
}

bool Runner::wait_abort_until(double deadline_ms) {
  std::unique_lock lock(abort_mutex_);
  return abort_cv_.wait_until(lock, at(deadline_ms), [this] { return abort_.load(); });
}

std::vector<std::string> Runner::active_faults() {
  std::vector<std::string> out;
  std::lock_guard lock(steps_mutex_);
  for (const auto& s : result_.steps)
    if (is_fault(s.kind) && s.applied_ms && !s.ended_ms) out.push_back(fmt::format("{} ({})", s.name, s.type));
  return out;
}

void Runner::step_failed(const StepDecl& decl, StepRecord& rec, const std::string& what, const std::string& error) {
  update_step([&] {
    rec.status = StepStatus::error;
    rec.error = error;
    rec.ended_ms = now_ms();
  });
  log_at(now_ms(), fmt::format("step {} {}: {}", decl.name, what, error));
  step_error_ = true;
  trigger_abort();
}

StepContext Runner::make_context(const StepDecl& decl) {
  StepContext context;
  context.experiment = ex_.name;
  context.step = decl.name;
  context.type = decl.type->name;
  context.recorder = &recorder_;
  context.aborted = [this] { return abort_.load(); };
  return context;
}

// Resolves the step's target into the context; false after step_failed.
bool Runner::resolve_step_target(const StepDecl& decl, StepRecord& rec, StepContext& context, const char* what) {
  if (decl.target.empty()) return true;
  TargetDraw draw;
  auto processes = resolve_target(*ex_.find_target(decl.target), &draw);
  if (!processes) {
    step_failed(decl, rec, what, processes.error().message);
    return false;
  }
  context.processes = *processes;
  context.matched = *processes;
  if (draw.drawn && decl.follow)  // the matches it did not draw are not new either
    if (auto all = match_target(*ex_.find_target(decl.target))) context.matched = *all;
  if (draw.drawn) {
    context.detail["target_draw"] = draw.to_json();  // the blast radius as drawn, in the journal
    log_at(now_ms(), fmt::format("step {}: target {}: {} -> pids {}", decl.name, decl.target, draw.how,
                                 fmt::join(draw.selected, ", ")));
  }
  return true;
}

// Before the method starts: every step that prepares attaches what it needs, switched off, so that its start
// is one switch. False after step_failed, with the steps prepared so far reverted.
bool Runner::prepare_steps() {
  step_contexts_.clear();
  for (const auto& decl : ex_.method) step_contexts_.push_back(make_context(decl));
  prepared_.assign(ex_.method.size(), 0);
  for (size_t i = 0; i < ex_.method.size(); ++i) {
    const StepDecl& decl = ex_.method[i];
    StepRecord& rec = result_.steps[i];
    StepContext& context = step_contexts_[i];
    if (!decl.action->prepares()) continue;
    bool ok = resolve_step_target(decl, rec, context, "could not be prepared");
    if (ok) {
      Result<void> prepared = fail("not prepared");
      try {
        prepared = decl.action->prepare(context);
      } catch (const std::exception& e) {
        prepared = fail(e.what());
      }
      if (!prepared) {
        if (!context.record_path.empty())  // a failed prepare undid itself
          if (auto cleared = recorder_.clear(context.record_path); !cleared) note(cleared.error().message);
        step_failed(decl, rec, "could not be prepared", prepared.error().message);
        ok = false;
      }
    }
    if (!ok) {
      for (size_t j = 0; j < i; ++j)
        if (prepared_[j]) (void)revert_step(ex_.method[j], result_.steps[j], step_contexts_[j], true);
      return false;
    }
    prepared_[i] = 1;
    update_step([&] {
      rec.prepared_ms = now_ms();
      rec.processes = context.processes;
      rec.detail = context.detail;
    });
  }
  return true;
}

// A prepared step on processes of which one ended since (killed by an earlier step, perhaps restarted): it is
// undone, so that its apply attaches anew to the processes there are now. False when it stays prepared. Only a
// check per process while they all live, so that the step's start stays quick.
bool Runner::target_changed(const StepDecl& decl, StepContext& context) {
  if (decl.target.empty()) return false;
  const TargetSpec& target = *ex_.find_target(decl.target);
  if (target.kind == TargetKind::cgroup) return false;  // the programs are on the cgroup, whoever is in it
  auto alive = [](const ProcessInfo& p) { return process_is(p.pid, p.start_time); };
  if (std::all_of(context.processes.begin(), context.processes.end(), alive)) return false;
  auto now = resolve_target(target);
  if (!now) return false;  // nothing to attach to either: the apply goes on with what it has
  log_at(now_ms(), fmt::format("step {}: its target's processes changed since it was prepared; attaching again",
                               decl.name));
  if (auto r = decl.action->revert(context); !r) note(r.error().message);
  if (!context.record_path.empty())
    if (auto cleared = recorder_.clear(context.record_path); !cleared) note(cleared.error().message);
  context.record_path.clear();
  context.detail = nlohmann::json::object();
  context.effect.reset();
  context.processes = *now;
  context.matched = *now;
  return true;
}

// Applies the step (a prepared one only switches on; any other resolves its target first); false after
// step_failed.
bool Runner::apply_step(const StepDecl& decl, StepRecord& rec, StepContext& context, bool prepared) {
  if (prepared && target_changed(decl, context)) prepared = false;
  else if (!prepared && !resolve_step_target(decl, rec, context, "could not start")) return false;
  Result<void> applied = fail("not applied");
  context.switched_at.reset();
  try {
    applied = decl.action->apply(context);
  } catch (const std::exception& e) {
    applied = fail(e.what());
  }
  if (!applied) {
    // A partial apply reverted itself; a prepared step is reverted here. Then its record can go.
    if (prepared) (void)decl.action->revert(context);
    if (!context.record_path.empty())
      if (auto cleared = recorder_.clear(context.record_path); !cleared) note(cleared.error().message);
    // What it noted before failing (a command's output) explains the failure in the reports.
    update_step([&] { rec.detail = context.detail; });
    step_failed(decl, rec, "could not be applied", applied.error().message);
    return false;
  }
  double applied_ms = context.switched_at ? ms_of(*context.switched_at) : now_ms();
  set_deadline(decl, context);
  update_step([&] {
    rec.applied_ms = applied_ms;
    rec.processes = context.processes;
    rec.detail = context.detail;
    rec.effect = context.effect;
  });
  log_at(applied_ms, fmt::format("step {} ({}) applied {}", decl.name, decl.type->name,
                                 context.detail.empty() ? "" : context.detail.dump()));
  return true;
}

// A lasting fault's hard deadline, duration + margin, goes into its record: the guardian ends the fault then
// even if this process hangs or is stopped (system/guardian.hpp).
void Runner::set_deadline(const StepDecl& decl, StepContext& context) {
  if (decl.type->kind != StepKind::lasting_fault || !decl.duration || context.record_path.empty()) return;
  const int64_t deadline = unix_now_ms() + static_cast<int64_t>(decl.duration->count()) + kFaultDeadlineMarginMs;
  if (auto w = recorder_.set_deadline(context.record_path, deadline); !w)
    note(fmt::format("step {}: no hard deadline for its fault: {}", decl.name, w.error().message));
}

// True (after step_failed) when the guardian ended the fault at its deadline because this process did not revert
// it in time: it claimed the fault (expired-*.json) and, once the fault ended, removed its record.
bool Runner::ended_by_guardian(const StepDecl& decl, StepRecord& rec, StepContext& context) {
  if (context.record_path.empty()) return false;
  const std::string expired = expired_record_path(context.record_path);
  if (access(expired.c_str(), F_OK) != 0) return false;  // the usual case: one syscall
  // Claimed: the guardian is ending the fault right now. Wait for it to finish (record gone) or give up (claim
  // gone: it could not, so this process reverts it).
  for (int i = 0; i < 400 && access(context.record_path.c_str(), F_OK) == 0; ++i) {
    if (access(expired.c_str(), F_OK) != 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (access(context.record_path.c_str(), F_OK) == 0) return false;  // a guardian stuck for 2 s: revert here too
  std::string outcome;
  for (const auto& f : list_expired_records(recorder_.dir()))
    if (f.path == expired && f.record.is_object()) outcome = f.record.value("guardian_outcome", "");
  unlink(expired.c_str());
  context.record_path.clear();
  update_step([&] { rec.reverted_ms = now_ms(); });
  step_failed(decl, rec, "was ended by the guardian",
              fmt::format("the guardian ended this fault at its hard deadline (duration {} + margin {}) because "
                          "rebound had not reverted it: rebound's main loop was stopped or hung{}",
                          format_duration(*decl.duration), format_duration(Millis(kFaultDeadlineMarginMs)),
                          outcome.empty() ? "" : fmt::format(" (guardian: {})", outcome)));
  return true;
}

// Reverts a lasting fault (or a prepared step that never started); false after step_failed.
bool Runner::revert_step(const StepDecl& decl, StepRecord& rec, StepContext& context, bool aborted) {
  context.switched_at.reset();
  decl.action->switch_off(context);  // first: the step's end is this store, then the bookkeeping
  if (ended_by_guardian(decl, rec, context)) return false;
  Result<void> reverted = fail("not reverted");
  try {
    reverted = decl.action->revert(context);
  } catch (const std::exception& e) {
    reverted = fail(e.what());
  }
  double reverted_ms = context.switched_at ? ms_of(*context.switched_at) : now_ms();
  update_step([&] {
    rec.reverted_ms = reverted_ms;
    rec.detail = context.detail;
    rec.effect = context.effect;
  });
  if (!reverted) {
    // A failed revert keeps its record so that `rebound recover` can try again.
    step_failed(decl, rec, "could not be reverted", reverted.error().message);
    return false;
  }
  if (!context.record_path.empty()) {
    if (auto cleared = recorder_.clear(context.record_path); !cleared) note(cleared.error().message);
  }
  log_at(now_ms(), fmt::format("step {} reverted{}", decl.name, aborted ? " (experiment aborted)" : ""));
  return true;
}

void Runner::run_step(size_t index, double method_start_ms) {
  const StepDecl& decl = ex_.method[index];
  StepRecord& rec = result_.steps[index];
  StepContext& context = step_contexts_[index];
  const bool prepared = prepared_[index];
  if (wait_abort_until(method_start_ms + decl.start.count())) {
    if (prepared && !revert_step(decl, rec, context, true)) return;  // attached, never switched on
    update_step([&] { rec.status = StepStatus::skipped; });
    return;
  }
  update_step([&] { rec.started_ms = now_ms(); });
  if (!apply_step(decl, rec, context, prepared)) return;
  bool aborted = false;
  if (decl.duration) {
    // Woken a little early, then on time to the microsecond: a prepared step's end is one store, and a
    // sleeping thread wakes tens of microseconds late.
    const double end = *rec.applied_ms + decl.duration->count();
    aborted = wait_lasting(decl, rec, context, end - 1.0);
    while (!aborted && now_ms() < end) aborted = abort_.load();
  }
  if ((decl.type->kind == StepKind::lasting_fault || prepared) && !revert_step(decl, rec, context, aborted)) return;
  update_step([&] {
    rec.ended_ms = now_ms();
    rec.status = aborted ? StepStatus::interrupted : StepStatus::done;
  });
}

void Runner::check_guards() {
  double now = now_ms();
  for (const auto& g : ex_.guards) {
    for (const auto& s : samplers_) {
      if (s->name() != g.probe) continue;
      std::optional<double> ratio;
      s->inspect([&](const ProbeSeries& series) { ratio = guard_trips(series, g.rule, now); });
      if (ratio) {
        guard_tripped_ = true;
        result_.guard_events.push_back({g.name, g.probe, now, *ratio});
        result_.reasons.push_back(fmt::format("guard '{}' tripped at {:.2f}s: probe '{}' failed {:.0f}% of samples in "
                                              "the last {} (limit {:.0f}%)",
                                              g.name, now / 1000, g.probe, *ratio * 100,
                                              format_duration(Millis(g.rule.window_ms)),
                                              g.rule.max_failure_ratio * 100));
        warn_at(now, fmt::format("{}; reverting every fault", result_.reasons.back()));
        trigger_abort();
        return;
      }
    }
  }
}

void Runner::run_method() {
  for (const auto& decl : ex_.method) {
    StepRecord rec;
    rec.name = decl.name;
    rec.type = decl.type->name;
    rec.kind = decl.type->kind;
    rec.target = decl.target;
    rec.planned_start_ms = decl.start.count();
    if (decl.duration) rec.planned_duration_ms = decl.duration->count();
    rec.allow_no_effect = decl.allow_no_effect;
    result_.steps.push_back(std::move(rec));
  }
  if (!prepare_steps()) {
    for (auto& rec : result_.steps)
      if (rec.status == StepStatus::pending) rec.status = StepStatus::skipped;
    return;
  }
  // The timeline starts once every step is ready: a prepared step's start is one switch.
  const double method_start = now_ms();
  std::atomic<size_t> finished{0};
  std::vector<std::thread> threads;
  // Whatever happens here, every step thread is told to stop and is joined, so every fault is reverted.
  struct JoinAll {
    Runner& runner;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      runner.trigger_abort();
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  };
  JoinAll join_all{*this, threads};
  for (size_t i = 0; i < ex_.method.size(); ++i) {
    threads.emplace_back([this, i, method_start, &finished] {
      prctl(PR_SET_TIMERSLACK, 1UL);  // the default 50 us slack would delay every step's wake-up
      try {
        run_step(i, method_start);
      } catch (const std::exception& e) {
        step_error_ = true;
        std::lock_guard lock(steps_mutex_);
        result_.steps[i].status = StepStatus::error;
        result_.steps[i].error = e.what();
      }
      ++finished;
    });
  }
  while (finished < threads.size()) {
    check_interrupt();
    if (!abort_) check_guards();
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace rebound
