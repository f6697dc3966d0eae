#include "experiments/runner.hpp"

#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <thread>

#include "config/templates.hpp"
#include "experiments/runner_impl.hpp"
#include "system/signals.hpp"
#include "system/state_dir.hpp"

namespace rebound {

std::string iso8601_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", text, ms);
}

namespace {

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec || path.empty() ? path : p.lexically_normal().string();
}

}  // namespace

Runner::Runner(const Experiment& ex, const RunOptions& options)
    : ex_(ex),
      options_(options),
      recorder_(options.state_dir, absolute_path(options.output_dir)),
      progress_(options.live_progress) {}

void Runner::log_at(double t_ms, const std::string& what) {
  progress_.event(mask_secrets(fmt::format("[{:7.2f}s] {}: {}", t_ms / 1000, ex_.name, what), ex_.secrets));
}

void Runner::warn_at(double t_ms, const std::string& what) {
  progress_.warning(mask_secrets(fmt::format("[{:7.2f}s] {}: {}", t_ms / 1000, ex_.name, what), ex_.secrets));
}

void Runner::note(const std::string& what) { progress_.event(fmt::format("{}: {}", ex_.name, what)); }

void Runner::begin_phase(const std::string& name) {
  double now = now_ms();
  if (!result_.phases.empty()) result_.phases.back().end_ms = now;
  result_.phases.push_back({name, now, now});
  log_at(now, name);
  update_marker();
}

// The run marker says the phase, for `rebound status`.
void Runner::update_marker() {
  if (marker_path_.empty()) return;
  marker_["phase"] = result_.phases.empty() ? "starting" : result_.phases.back().name;
  if (auto w = recorder_.update_run(marker_path_, marker_); !w) note(w.error().message);
}

bool Runner::check_halt() {
  if (halted_) return true;
  const double now = now_ms();
  if (options_.state_dir.empty() || now - last_halt_check_ms_ < 20) return false;
  last_halt_check_ms_ = now;
  auto halt = read_halt(options_.state_dir);
  if (!halt) return false;
  halted_ = true;
  guard_tripped_ = true;  // the verdict is `aborted`, as when a guard trips
  result_.reasons.push_back(fmt::format("rebound halt: the host was {}; {}", halt->describe(),
                                        result_.phases.empty() ? "nothing was run"
                                                               : "every applied fault was reverted"));
  log_at(now, fmt::format("{}: reverting every fault", halt->describe()));
  trigger_abort();
  return true;
}

bool Runner::check_interrupt() {
  if (interrupted_by_ || check_halt()) return true;
  if (int sig = interrupt_signal()) {
    interrupted_by_ = sig;
    log_at(now_ms(), fmt::format("interrupted by {}: reverting every fault", signal_name(sig)));
    trigger_abort();
    return true;
  }
  return false;
}

void Runner::tick() {
  double now = now_ms();
  if (!options_.live_progress || now - last_tick_ms_ < 100) return;
  last_tick_ms_ = now;
  ProgressState state;
  state.experiment = ex_.name;
  state.phase = result_.phases.empty() ? "starting" : result_.phases.back().name;
  state.elapsed_ms = now;
  state.planned_ms = planned_ms_;
  for (const auto& s : samplers_) {
    ProbeStatus p;
    p.name = s->name();
    p.type = s->decl().type;
    p.failures = s->failures();
    p.samples = s->size();  // a load probe's requests, not its buckets
    s->inspect([&](const ProbeSeries& series) {
      if (!series.samples.empty()) {
        const auto& last = series.samples.back();
        p.has_sample = true;
        p.ok = last.ok;
        p.latency_ms = last.latency_ms;
        p.reason = last.reason;
      }
    });
    state.probes.push_back(std::move(p));
  }
  state.active_faults = active_faults();
  progress_.update(state);
}

bool Runner::wait_until(double deadline_ms, const std::function<bool()>& done) {
  while (now_ms() < deadline_ms) {
    if (check_interrupt()) return false;
    if (done && done()) return true;
    tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !check_interrupt();
}

bool Runner::preflight() {
  for (const auto& step : ex_.method) {
    Result<void> ok;
    if (step.type->available) ok = step.type->available();
    if (ok) ok = step.action->preflight();
    if (!ok) {
      setup_error_ = true;
      result_.reasons.push_back(fmt::format("step '{}' ({}) cannot run on this host: {}", step.name, step.type->name,
                                            ok.error().message));
      note(result_.reasons.back());
      return false;
    }
  }
  return true;
}

bool Runner::resolve_targets() {
  for (const auto& t : ex_.targets) {
    auto r = resolve_target(t);
    if (!r) {
      setup_error_ = true;
      result_.reasons.push_back(r.error().message);
      note(r.error().message);
      return false;
    }
    result_.targets[t.name] = *r;
  }
  return true;
}

std::vector<ProbeSeries> Runner::snapshot() const {
  std::vector<ProbeSeries> out;
  for (const auto& s : samplers_) out.push_back(s->snapshot());
  return out;
}

void Runner::start_clock() {
  epoch_ = SteadyClock::now();
  result_.started_at = iso8601_now();
  result_.monotonic_epoch_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(epoch_.time_since_epoch()).count();
  planned_ms_ = ex_.steady_state.window.count() * 2 + ex_.method_span().count() + ex_.observe_for().count();
}

// Samples the steady state before anything is injected; true when the method may go on.
bool Runner::run_baseline() {
  begin_phase("baseline");
  for (const auto& p : ex_.probes) samplers_.push_back(std::make_unique<Sampler>(p, epoch_));
  for (auto& s : samplers_) s->start();
  times_.baseline_start = now_ms();
  bool go_on = wait_until(times_.baseline_start + ex_.steady_state.window.count());
  times_.method_start = now_ms();
  {
    auto all = snapshot();
    result_.baseline = check_steady_state(steady_series(ex_, all), ex_.steady_state.tolerance, times_.baseline_start,
                                          times_.method_start);
  }
  log_at(times_.method_start, fmt::format("baseline: {}", result_.baseline->summary()));
  return go_on && result_.baseline->passed;
}

// Watches the steady-state probes from the end of impact until they hold for stable_for, or observe_for ends.
void Runner::run_recovery() {
  begin_phase("recovery");
  // The end of impact as known now: the last revert, or the last instant fault.
  double eoi = now_ms();
  {
    std::lock_guard lock(steps_mutex_);
    if (auto latest = end_of_impact(result_.steps)) eoi = *latest;
  }
  double last_check = -1e9;
  wait_until(eoi + ex_.observe_for().count(), [&] {
    if (now_ms() - last_check < 50) return false;
    last_check = now_ms();
    std::vector<ProbeSeries> recent;
    for (const auto& sampler : samplers_)
      if (is_steady(ex_, sampler->name())) recent.push_back(sampler->snapshot_since(eoi));
    SeriesSet steady;
    for (const auto& r : recent) steady.push_back(&r);
    return find_recovery(steady, eoi, ex_.slo.stable_for.count()).has_value();
  });
  times_.recovery_end = now_ms();
}

void Runner::run_after() {
  begin_phase("after");
  times_.after_start = now_ms();
  if (!wait_until(times_.after_start + ex_.steady_state.window.count())) return;
  times_.end = now_ms();
  auto all = snapshot();
  result_.after = check_steady_state(steady_series(ex_, all), ex_.steady_state.tolerance, times_.after_start,
                                     times_.end);
  log_at(times_.end, fmt::format("steady state after: {}", result_.after->summary()));
}

void Runner::run_phases() {
  if (check_halt()) return;  // halted before it started: nothing runs
  begin_phase("preflight");
  if (!preflight()) return;  // nothing ran: the verdict says why
  begin_phase("setup");
  if (!run_setup() || !resolve_targets()) return;
  if (!run_baseline()) return;
  begin_phase("method");
  planned_ms_ = times_.method_start + ex_.method_span().count() + ex_.observe_for().count() +
                ex_.steady_state.window.count();
  run_method();
  if (!ex_.rollbacks.empty()) {
    begin_phase("rollbacks");
    run_commands(ex_.rollbacks, "rollback");
  }
  run_recovery();
  if (!interrupted_by_ && !step_error_ && !halted_) run_after();
}

// Stops the probes, tears down, and judges.
void Runner::finish() {
  // Ask every sampler first, then wait: one by one would cost a scheduling round per probe.
  for (auto& s : samplers_) s->request_stop();
  for (auto& s : samplers_) s->stop();
  times_.end = std::max(times_.end, now_ms());
  if (!times_.after_start) times_.after_start = times_.end;
  if (!times_.recovery_end) times_.recovery_end = times_.end;
  if (!times_.method_start) times_.method_start = times_.end;
  begin_phase("teardown");
  run_commands(ex_.teardown, "teardown");
  stop_background();
  for (const auto& decl : ex_.method)
    if (decl.action) decl.action->finish();
  result_.phases.back().end_ms = now_ms();
  // Moved, not copied: a load probe's ten minutes are 60,000 buckets (issue 14's memory target).
  for (auto& s : samplers_) result_.probes.push_back(s->take());
  measure_run(result_, ex_, times_);
  judge_run(result_, ex_, {setup_error_, step_error_, guard_tripped_, interrupted_by_});
  progress_.finish();
  result_.ended_at = iso8601_now();
  result_.duration_ms = now_ms();
}

RunResult Runner::run() {
  start_clock();
  if (ex_.captures) ex_.captures->clear();  // a trial starts without an earlier trial's captured values
  // While this marker exists, a death of rebound makes its guardian write a `crashed` journal in the report folder.
  marker_ = {{"experiment", ex_.name}, {"file", ex_.file}, {"started_at", result_.started_at}, {"phase", "starting"}};
  auto marker = recorder_.begin_run(marker_);
  if (!marker) note(fmt::format("note: {}; if rebound dies, no journal will say so", marker.error().message));
  else marker_path_ = *marker;
  try {
    run_phases();
  } catch (const std::exception& e) {
    trigger_abort();
    setup_error_ = true;
    result_.reasons.push_back(fmt::format("internal error: {}", e.what()));
  }
  finish();
  marker_path_.clear();
  if (marker) recorder_.end_run(*marker);
  return std::move(result_);  // not a copy of every probe's series
}

RunResult run_experiment(const Experiment& experiment, const RunOptions& options) {
  Runner runner(experiment, options);
  return runner.run();
}

}  // namespace rebound
