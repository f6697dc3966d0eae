#include "experiments/runner.hpp"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>
#include <spdlog/spdlog.h>
#include <thread>

#include "system/fault_record.hpp"
#include "experiments/progress.hpp"
#include "system/signals.hpp"
#include "system/subprocess.hpp"
#include "experiments/sampler.hpp"

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

std::vector<Criterion> evaluate_slo(const SloSpec& slo, const RunMetrics& m, bool faults_applied) {
  std::vector<Criterion> out;
  if (slo.recover_within && faults_applied) {
    Criterion c{"recover_within", m.time_to_recover_ms, slo.recover_within->count(), "ms", false, ""};
    if (!m.time_to_recover_ms) {
      c.detail = fmt::format("did not recover: the steady state never held for {} in the {:.1f}s watched after the "
                             "end of impact; limit {}",
                             format_duration(slo.stable_for), m.observed_ms.value_or(0) / 1000,
                             format_duration(*slo.recover_within));
    } else {
      c.passed = *m.time_to_recover_ms <= c.limit;
      c.detail = fmt::format("recovered {:.0f} ms after the end of impact; limit {:.0f} ms", *m.time_to_recover_ms,
                             c.limit);
    }
    out.push_back(c);
  }
  auto impact = m.phases.find("impact");
  const PhaseStats* stats = impact == m.phases.end() ? nullptr : &impact->second;
  if (slo.max_error_ratio && faults_applied && stats) {
    Criterion c{"max_error_ratio", stats->error_ratio, *slo.max_error_ratio, "ratio", false, ""};
    c.passed = stats->error_ratio <= c.limit + 1e-12;
    c.detail = fmt::format("{} of {} samples failed from the first fault to recovery ({:.2f}%); limit {:.2f}%",
                           stats->failures, stats->samples, stats->error_ratio * 100, c.limit * 100);
    out.push_back(c);
  }
  auto latency = [&](const char* name, const std::optional<Millis>& limit, const std::optional<double>& value) {
    if (!limit || !faults_applied || !stats) return;
    Criterion c{name, value, limit->count(), "ms", false, ""};
    c.passed = !value || *value <= c.limit;
    c.detail = value ? fmt::format("{:.1f} ms from the first fault to recovery; limit {:.1f} ms", *value, c.limit)
                     : "no samples";
    out.push_back(c);
  };
  if (stats) {
    latency("max_p50", slo.max_p50, stats->p50);
    latency("max_p95", slo.max_p95, stats->p95);
    latency("max_p99", slo.max_p99, stats->p99);
  }
  return out;
}

Criterion regression_criterion(double ttr, double baseline_ms, int64_t baseline_run, double margin) {
  Criterion c{"regression.time_to_recover", ttr, baseline_ms * (1 + margin), "ms", false, ""};
  c.passed = ttr <= c.limit;
  c.detail = fmt::format("recovered in {:.0f} ms; baseline run {} recovered in {:.0f} ms, allowed up to {:.0f} ms (+{:.0f}%)",
                         ttr, baseline_run, baseline_ms, c.limit, margin * 100);
  return c;
}

namespace {

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec || path.empty() ? path : p.lexically_normal().string();
}

const char* kind_name(StepKind kind) {
  switch (kind) {
    case StepKind::instant_fault: return "fault";
    case StepKind::lasting_fault: return "fault";
    case StepKind::action: return "action";
  }
  return "action";
}

class Runner {
 public:
  Runner(const Experiment& ex, const RunOptions& options)
      : ex_(ex),
        options_(options),
        recorder_(options.state_dir, absolute_path(options.output_dir)),
        progress_(options.live_progress) {}
  RunResult run();

 private:
  double now_ms() const { return std::chrono::duration<double, std::milli>(SteadyClock::now() - epoch_).count(); }
  SteadyClock::time_point at(double ms) const {
    return epoch_ + std::chrono::duration_cast<SteadyClock::duration>(Millis(ms));
  }
  void begin_phase(const std::string& name);
  bool check_interrupt();
  // Waits until the deadline, `done()` or an interrupt; returns false when interrupted.
  bool wait_until(double deadline_ms, const std::function<bool()>& done = {});
  void tick();
  bool preflight();
  bool run_setup();
  bool resolve_targets();
  void run_method();
  void run_step(size_t index, double method_start_ms);
  bool wait_abort_until(double deadline_ms);
  void trigger_abort();
  void check_guards();
  void run_commands(const std::vector<CommandSpec>& commands, const char* phase);
  void stop_background();
  std::vector<ProbeSeries> snapshot() const;
  SeriesSet steady_series(const std::vector<ProbeSeries>& all) const;
  bool is_steady(const std::string& probe) const;
  void compute_metrics_and_verdict(double baseline_start, double method_start, double recovery_end,
                                   double after_start, double end);
  std::vector<std::string> active_faults();

  const Experiment& ex_;
  RunOptions options_;
  FaultRecorder recorder_;
  Progress progress_;
  SteadyClock::time_point epoch_;
  RunResult result_;
  std::vector<std::unique_ptr<BackgroundProcess>> background_;
  std::vector<std::unique_ptr<Sampler>> samplers_;

  std::atomic<bool> abort_{false};
  std::mutex abort_mutex_;
  std::condition_variable abort_cv_;
  std::mutex steps_mutex_;
  std::atomic<bool> step_error_{false};
  bool setup_error_ = false;
  bool guard_tripped_ = false;
  int interrupted_by_ = 0;
  double last_tick_ms_ = -1e9;
  double planned_ms_ = 0;
};

void Runner::begin_phase(const std::string& name) {
  double now = now_ms();
  if (!result_.phases.empty()) result_.phases.back().end_ms = now;
  result_.phases.push_back({name, now, now});
  progress_.event(fmt::format("[{:7.2f}s] {}: {}", now / 1000, ex_.name, name));
}

bool Runner::check_interrupt() {
  if (interrupted_by_) return true;
  if (int sig = interrupt_signal()) {
    interrupted_by_ = sig;
    progress_.event(fmt::format("[{:7.2f}s] interrupted by {}: reverting every fault", now_ms() / 1000,
                                signal_name(sig)));
    trigger_abort();
    return true;
  }
  return false;
}

std::vector<std::string> Runner::active_faults() {
  std::vector<std::string> out;
  std::lock_guard lock(steps_mutex_);
  for (const auto& s : result_.steps)
    if (s.kind == "fault" && s.applied_ms && !s.ended_ms) out.push_back(fmt::format("{} ({})", s.name, s.type));
  return out;
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
    s->inspect([&](const ProbeSeries& series) {
      p.samples = series.samples.size();
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
      progress_.event(result_.reasons.back());
      return false;
    }
  }
  return true;
}

bool Runner::run_setup() {
  for (size_t i = 0; i < ex_.setup.size(); ++i) {
    if (check_interrupt()) return false;
    const auto& spec = ex_.setup[i];
    CommandRecord rec{"setup", spec.name.empty() ? fmt::format("setup#{}", i) : spec.name, spec.argv, now_ms(), 0,
                      false, "", std::nullopt};
    if (spec.background) {
      std::string log = fmt::format("{}/setup-{}.log", options_.output_dir, i);
      auto started = BackgroundProcess::start(spec, log);
      if (!started) {
        rec.summary = started.error().message;
      } else {
        rec.pid = (*started)->pid();
        BackgroundProcess& process = **started;
        background_.push_back(std::move(*started));
        rec.ok = true;
        rec.summary = fmt::format("started in the background as pid {} (output: {})", *rec.pid, log);
        if (!spec.ready_probe.empty()) {
          const ProbeDecl* probe = ex_.find_probe(spec.ready_probe);
          double deadline = now_ms() + spec.ready_timeout.count();
          SampleResult last;
          rec.ok = false;
          while (now_ms() < deadline && !check_interrupt()) {
            last = sample_safely(*probe->probe);
            if (last.ok) {
              rec.ok = true;
              break;
            }
            if (!process.running()) {
              last.reason = "the process exited (see " + log + ")";
              break;
            }
            std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::milliseconds>(probe->interval));
          }
          rec.summary += rec.ok ? fmt::format("; ready: probe '{}' passed", spec.ready_probe)
                                : fmt::format("; not ready: probe '{}' did not pass within {} (last: {})",
                                              spec.ready_probe, format_duration(spec.ready_timeout), last.reason);
        }
      }
    } else {
      auto outcome = run_command(spec, [this] { return interrupt_signal() != 0; });
      if (!outcome) rec.summary = outcome.error().message;
      else {
        rec.ok = outcome->as_expected(spec);
        rec.summary = outcome->summary(spec);
      }
    }
    rec.ended_ms = now_ms();
    progress_.event(fmt::format("[{:7.2f}s] setup {}: {}", rec.ended_ms / 1000, rec.name, rec.summary));
    bool ok = rec.ok;
    result_.commands.push_back(std::move(rec));
    if (!ok) {
      if (check_interrupt()) return false;
      setup_error_ = true;
      result_.reasons.push_back(fmt::format("setup step '{}' failed: {}", result_.commands.back().name,
                                            result_.commands.back().summary));
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
      progress_.event(r.error().message);
      return false;
    }
    result_.targets[t.name] = *r;
  }
  return true;
}

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

void Runner::run_step(size_t index, double method_start_ms) {
  const StepDecl& decl = ex_.method[index];
  StepRecord& rec = result_.steps[index];
  auto set = [&](auto&& f) {
    std::lock_guard lock(steps_mutex_);
    f();
  };
  auto step_failed = [&](const std::string& what, const std::string& error) {
    set([&] {
      rec.status = "error";
      rec.error = error;
      rec.ended_ms = now_ms();
    });
    progress_.event(fmt::format("[{:7.2f}s] step {} {}: {}", now_ms() / 1000, decl.name, what, error));
    step_error_ = true;
    trigger_abort();
  };
  if (wait_abort_until(method_start_ms + decl.start.count())) {
    set([&] { rec.status = "skipped"; });
    return;
  }
  StepContext context;
  context.experiment = ex_.name;
  context.step = decl.name;
  context.type = decl.type->name;
  context.recorder = &recorder_;
  context.aborted = [this] { return abort_.load(); };
  set([&] { rec.started_ms = now_ms(); });
  if (!decl.target.empty()) {
    auto processes = resolve_target(*ex_.find_target(decl.target));
    if (!processes) return step_failed("could not start", processes.error().message);
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
    if (!context.record_path.empty()) recorder_.clear(context.record_path);
    return step_failed("could not be applied", applied.error().message);
  }
  double applied_ms = now_ms();
  set([&] {
    rec.applied_ms = applied_ms;
    rec.processes = context.processes;
    rec.detail = context.detail;
  });
  progress_.event(fmt::format("[{:7.2f}s] step {} ({}) applied {}", applied_ms / 1000, decl.name, decl.type->name,
                              context.detail.empty() ? "" : context.detail.dump()));
  bool aborted = false;
  if (decl.duration) aborted = wait_abort_until(applied_ms + decl.duration->count());
  if (decl.type->kind == StepKind::lasting_fault) {
    Result<void> reverted = fail("not reverted");
    try {
      reverted = decl.action->revert(context);
    } catch (const std::exception& e) {
      reverted = fail(e.what());
    }
    set([&] {
      rec.reverted_ms = now_ms();
      rec.detail = context.detail;
    });
    // A failed revert keeps its record so that `rebound recover` can try again.
    if (!reverted) return step_failed("could not be reverted", reverted.error().message);
    if (!context.record_path.empty()) {
      if (auto cleared = recorder_.clear(context.record_path); !cleared)
        progress_.event(cleared.error().message);
    }
    progress_.event(fmt::format("[{:7.2f}s] step {} reverted{}", now_ms() / 1000, decl.name,
                                aborted ? " (experiment aborted)" : ""));
  }
  set([&] {
    rec.ended_ms = now_ms();
    rec.status = aborted ? "interrupted" : "done";
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
        progress_.event(fmt::format("[{:7.2f}s] {}; reverting every fault", now / 1000, result_.reasons.back()));
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
    rec.kind = kind_name(decl.type->kind);
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
        result_.steps[i].status = "error";
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

void Runner::run_commands(const std::vector<CommandSpec>& commands, const char* phase) {
  for (size_t i = 0; i < commands.size(); ++i) {
    const auto& spec = commands[i];
    CommandRecord rec{phase, spec.name.empty() ? fmt::format("{}#{}", phase, i) : spec.name, spec.argv, now_ms(), 0,
                      false, "", std::nullopt};
    auto outcome = run_command(spec);  // not abortable: rollbacks and teardown always run to the end
    if (!outcome) rec.summary = outcome.error().message;
    else {
      rec.ok = outcome->as_expected(spec);
      rec.summary = outcome->summary(spec);
    }
    rec.ended_ms = now_ms();
    progress_.event(fmt::format("[{:7.2f}s] {} {}: {}", rec.ended_ms / 1000, phase, rec.name, rec.summary));
    if (!rec.ok && std::string(phase) == "rollback")
      result_.reasons.push_back(fmt::format("rollback '{}' failed: {}", rec.name, rec.summary));
    result_.commands.push_back(std::move(rec));
  }
}

void Runner::stop_background() {
  for (auto it = background_.rbegin(); it != background_.rend(); ++it) {
    pid_t pid = (*it)->pid();
    std::string how = (*it)->stop();
    progress_.event(fmt::format("[{:7.2f}s] teardown: background pid {} {}", now_ms() / 1000, pid, how));
  }
  background_.clear();
}

std::vector<ProbeSeries> Runner::snapshot() const {
  std::vector<ProbeSeries> out;
  for (const auto& s : samplers_) out.push_back(s->snapshot());
  return out;
}

bool Runner::is_steady(const std::string& probe) const {
  const auto& names = ex_.steady_state.probes;
  return std::find(names.begin(), names.end(), probe) != names.end();
}

SeriesSet Runner::steady_series(const std::vector<ProbeSeries>& all) const {
  SeriesSet out;
  for (const auto& s : all)
    if (is_steady(s.name)) out.push_back(&s);
  return out;
}

void Runner::compute_metrics_and_verdict(double baseline_start, double method_start, double recovery_end,
                                         double after_start, double end) {
  auto& m = result_.metrics;
  SeriesSet steady = steady_series(result_.probes);
  for (const auto& p : result_.probes)
    if (!p.samples.empty() && (!m.first_sample_ms || p.samples.front().t_ms < *m.first_sample_ms))
      m.first_sample_ms = p.samples.front().t_ms;
  bool faults_applied = false;
  for (const auto& s : result_.steps) {
    if (s.kind != "fault" || !s.applied_ms) continue;
    faults_applied = true;
    double impact_end = s.reverted_ms.value_or(*s.applied_ms);
    m.first_fault_ms = std::min(m.first_fault_ms.value_or(*s.applied_ms), *s.applied_ms);
    m.end_of_impact_ms = std::max(m.end_of_impact_ms.value_or(impact_end), impact_end);
  }
  if (faults_applied) {
    if (auto impact = find_impact(steady, *m.first_fault_ms, recovery_end))
      m.time_to_impact_ms = *impact - *m.first_fault_ms;
    m.observed_ms = recovery_end - *m.end_of_impact_ms;
    m.recovered_at_ms = find_recovery(steady, *m.end_of_impact_ms, ex_.slo.stable_for.count());
    if (m.recovered_at_ms) m.time_to_recover_ms = *m.recovered_at_ms - *m.end_of_impact_ms;
    double recovered_or_end = m.recovered_at_ms.value_or(recovery_end);
    m.phases["fault"] = phase_stats(steady, *m.first_fault_ms, *m.end_of_impact_ms);
    m.phases["recovery"] = phase_stats(steady, *m.end_of_impact_ms, recovered_or_end);
    m.phases["impact"] = phase_stats(steady, *m.first_fault_ms, recovered_or_end);
  }
  if (method_start > baseline_start) m.phases["baseline"] = phase_stats(steady, baseline_start, method_start);
  if (end > after_start) m.phases["after"] = phase_stats(steady, after_start, end);

  if (result_.baseline) {
    result_.criteria.push_back({"steady_state.baseline", result_.baseline->passed ? 1.0 : 0.0, 1, "pass",
                                result_.baseline->passed, result_.baseline->summary()});
  }
  if (result_.baseline && result_.baseline->passed && !setup_error_ && !step_error_) {
    for (auto& c : evaluate_slo(ex_.slo, m, faults_applied)) result_.criteria.push_back(std::move(c));
    if (result_.after)
      result_.criteria.push_back({"steady_state.after", result_.after->passed ? 1.0 : 0.0, 1, "pass",
                                  result_.after->passed, result_.after->summary()});
    else if (interrupted_by_ || guard_tripped_)
      result_.criteria.push_back({"steady_state.after", std::nullopt, 1, "pass", false,
                                  "not checked: the experiment was stopped before the after window"});
  }

  Verdict v = Verdict::passed;
  if (setup_error_ || step_error_) {
    v = Verdict::error;
    result_.status = "error";
    for (const auto& s : result_.steps)
      if (s.status == "error") result_.reasons.push_back(fmt::format("step '{}' ({}): {}", s.name, s.type, s.error));
  } else if (interrupted_by_) {
    v = Verdict::aborted;
    result_.status = "interrupted";
    result_.reasons.push_back(fmt::format("interrupted by {}; every applied fault was reverted",
                                          signal_name(interrupted_by_)));
  } else if (result_.baseline && !result_.baseline->passed) {
    v = Verdict::inconclusive;
    result_.status = "completed";
    result_.reasons.push_back("baseline steady state not met, nothing was injected: " + result_.baseline->summary());
  } else if (guard_tripped_) {
    v = Verdict::aborted;
    result_.status = "aborted";
  } else {
    for (const auto& c : result_.criteria)
      if (!c.passed) {
        v = Verdict::failed;
        result_.reasons.push_back(fmt::format("{}: {}", c.name, c.detail));
      }
  }
  result_.verdict = v;
}

RunResult Runner::run() {
  epoch_ = SteadyClock::now();
  result_.started_at = iso8601_now();
  result_.monotonic_epoch_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(epoch_.time_since_epoch()).count();
  planned_ms_ = ex_.steady_state.window.count() * 2 + ex_.method_span().count() + ex_.observe_for().count();
  // While this marker exists, a death of rebound makes its guardian write a `crashed` journal in the report folder.
  auto marker = recorder_.begin_run({{"experiment", ex_.name}, {"file", ex_.file}, {"started_at", result_.started_at}});
  if (!marker) progress_.event(fmt::format("note: {}; if rebound dies, no journal will say so", marker.error().message));
  double baseline_start = 0, method_start = 0, recovery_end = 0, after_start = 0, end = 0;
  try {
    begin_phase("preflight");
    if (!preflight()) {
      // Nothing ran: the verdict says why.
    } else if (begin_phase("setup"), run_setup() && resolve_targets()) {
      begin_phase("baseline");
      for (const auto& p : ex_.probes) samplers_.push_back(std::make_unique<Sampler>(p, epoch_));
      for (auto& s : samplers_) s->start();
      baseline_start = now_ms();
      bool go_on = wait_until(baseline_start + ex_.steady_state.window.count());
      method_start = now_ms();
      {
        auto all = snapshot();
        result_.baseline = check_steady_state(steady_series(all), ex_.steady_state.tolerance, baseline_start,
                                              method_start);
      }
      progress_.event(fmt::format("[{:7.2f}s] baseline: {}", method_start / 1000, result_.baseline->summary()));
      if (go_on && result_.baseline->passed) {
        begin_phase("method");
        planned_ms_ = method_start + ex_.method_span().count() + ex_.observe_for().count() +
                      ex_.steady_state.window.count();
        run_method();
        if (!ex_.rollbacks.empty()) {
          begin_phase("rollbacks");
          run_commands(ex_.rollbacks, "rollback");
        }
        begin_phase("recovery");
        // The end of impact as known now: the last revert, or the last instant fault.
        double eoi = now_ms();
        {
          std::lock_guard lock(steps_mutex_);
          std::optional<double> latest;
          for (const auto& s : result_.steps)
            if (s.kind == "fault" && s.applied_ms)
              latest = std::max(latest.value_or(0), s.reverted_ms.value_or(*s.applied_ms));
          if (latest) eoi = *latest;
        }
        double last_check = -1e9;
        bool recovered = false;
        wait_until(eoi + ex_.observe_for().count(), [&] {
          if (now_ms() - last_check < 50) return false;
          last_check = now_ms();
          std::vector<ProbeSeries> recent;
          for (const auto& sampler : samplers_)
            if (is_steady(sampler->name())) recent.push_back(sampler->snapshot_since(eoi));
          SeriesSet steady;
          for (const auto& r : recent) steady.push_back(&r);
          recovered = find_recovery(steady, eoi, ex_.slo.stable_for.count()).has_value();
          return recovered;
        });
        recovery_end = now_ms();
        if (!interrupted_by_ && !step_error_) {
          begin_phase("after");
          after_start = now_ms();
          if (wait_until(after_start + ex_.steady_state.window.count())) {
            end = now_ms();
            auto all = snapshot();
            result_.after = check_steady_state(steady_series(all), ex_.steady_state.tolerance, after_start, end);
            progress_.event(fmt::format("[{:7.2f}s] steady state after: {}", end / 1000, result_.after->summary()));
          }
        }
      }
    }
  } catch (const std::exception& e) {
    trigger_abort();
    setup_error_ = true;
    result_.reasons.push_back(fmt::format("internal error: {}", e.what()));
  }
  // Ask every sampler first, then wait: one by one would cost a scheduling round per probe.
  for (auto& s : samplers_) s->request_stop();
  for (auto& s : samplers_) s->stop();
  result_.probes = snapshot();
  end = std::max(end, now_ms());
  if (!after_start) after_start = end;
  if (!recovery_end) recovery_end = end;
  begin_phase("teardown");
  run_commands(ex_.teardown, "teardown");
  stop_background();
  for (const auto& decl : ex_.method)
    if (decl.action) decl.action->finish();
  result_.phases.back().end_ms = now_ms();
  compute_metrics_and_verdict(baseline_start, method_start ? method_start : end, recovery_end, after_start, end);
  progress_.finish();
  result_.ended_at = iso8601_now();
  result_.duration_ms = now_ms();
  if (marker) recorder_.end_run(*marker);
  return result_;
}

}  // namespace

RunResult run_experiment(const Experiment& experiment, const RunOptions& options) {
  Runner runner(experiment, options);
  return runner.run();
}

}  // namespace rebound
