// The method: one thread per step, each waits for its start, applies its fault or action, reverts a lasting fault
// after its duration or at an abort; guards watch the probes meanwhile.
#include <fmt/format.h>
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

// Resolves the step's target and applies it; false after step_failed.
bool Runner::apply_step(const StepDecl& decl, StepRecord& rec, StepContext& context) {
  if (!decl.target.empty()) {
    auto processes = resolve_target(*ex_.find_target(decl.target));
    if (!processes) {
      step_failed(decl, rec, "could not start", processes.error().message);
      return false;
    }
    context.processes = *processes;
  }
  Result<void> applied = fail("not applied");
  try {
    applied = decl.action->apply(context);
  } catch (const std::exception& e) {
    applied = fail(e.what());
  }
  if (!applied) {
    // A partial apply reverted itself; its record can go.
    if (!context.record_path.empty())
      if (auto cleared = recorder_.clear(context.record_path); !cleared) note(cleared.error().message);
    step_failed(decl, rec, "could not be applied", applied.error().message);
    return false;
  }
  double applied_ms = now_ms();
  update_step([&] {
    rec.applied_ms = applied_ms;
    rec.processes = context.processes;
    rec.detail = context.detail;
  });
  log_at(applied_ms, fmt::format("step {} ({}) applied {}", decl.name, decl.type->name,
                                 context.detail.empty() ? "" : context.detail.dump()));
  return true;
}

// Reverts a lasting fault; false after step_failed.
bool Runner::revert_step(const StepDecl& decl, StepRecord& rec, StepContext& context, bool aborted) {
  Result<void> reverted = fail("not reverted");
  try {
    reverted = decl.action->revert(context);
  } catch (const std::exception& e) {
    reverted = fail(e.what());
  }
  update_step([&] {
    rec.reverted_ms = now_ms();
    rec.detail = context.detail;
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
  if (wait_abort_until(method_start_ms + decl.start.count())) {
    update_step([&] { rec.status = StepStatus::skipped; });
    return;
  }
  StepContext context;
  context.experiment = ex_.name;
  context.step = decl.name;
  context.type = decl.type->name;
  context.recorder = &recorder_;
  context.aborted = [this] { return abort_.load(); };
  update_step([&] { rec.started_ms = now_ms(); });
  if (!apply_step(decl, rec, context)) return;
  bool aborted = false;
  if (decl.duration) aborted = wait_abort_until(*rec.applied_ms + decl.duration->count());
  if (decl.type->kind == StepKind::lasting_fault && !revert_step(decl, rec, context, aborted)) return;
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
        log_at(now, fmt::format("{}; reverting every fault", result_.reasons.back()));
        trigger_abort();
        return;
      }
    }
  }
}

void Runner::run_method() {
  const double method_start = now_ms();
  for (const auto& decl : ex_.method) {
    StepRecord rec;
    rec.name = decl.name;
    rec.type = decl.type->name;
    rec.kind = decl.type->kind;
    rec.target = decl.target;
    rec.planned_start_ms = decl.start.count();
    if (decl.duration) rec.planned_duration_ms = decl.duration->count();
    result_.steps.push_back(std::move(rec));
  }
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
