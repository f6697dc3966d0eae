#pragma once
// The runner's inside, shared by its files: runner.cpp (the phases), runner_steps.cpp (the method's steps and
// guards), runner_commands.cpp (setup, rollbacks, teardown). Not for use outside them.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "system/fault_record.hpp"
#include "experiments/progress.hpp"
#include "experiments/runner.hpp"
#include "system/subprocess.hpp"
#include "experiments/verdict.hpp"
#include "experiments/sampler.hpp"

namespace rebound {

class Runner {
 public:
  Runner(const Experiment& ex, const RunOptions& options);
  RunResult run();

 private:
  double now_ms() const { return std::chrono::duration<double, std::milli>(SteadyClock::now() - epoch_).count(); }
  double ms_of(SteadyClock::time_point t) const { return std::chrono::duration<double, std::milli>(t - epoch_).count(); }
  SteadyClock::time_point at(double ms) const {
    return epoch_ + std::chrono::duration_cast<SteadyClock::duration>(Millis(ms));
  }
  // An event line that names the experiment (parallel suite groups interleave them): "[t] name: what".
  void log_at(double t_ms, const std::string& what);
  void warn_at(double t_ms, const std::string& what);  // the same at warning level
  // The same without a time: "name: what".
  void note(const std::string& what);

  // runner.cpp: the phases.
  void start_clock();
  void run_phases();
  bool run_baseline();
  void run_recovery();
  void run_after();
  void finish();
  void begin_phase(const std::string& name);
  bool check_interrupt();
  // A `rebound halt` of this host (STATE/halt.json), looked for every 20 ms: true once halted, after the abort.
  bool check_halt();
  void update_marker();
  // Waits until the deadline, `done()` or an interrupt; returns false when interrupted.
  bool wait_until(double deadline_ms, const std::function<bool()>& done = {});
  void tick();
  bool preflight();
  bool resolve_targets();
  std::vector<ProbeSeries> snapshot() const;

  // runner_steps.cpp: the method.
  void run_method();
  void run_step(size_t index, double method_start_ms);
  StepContext make_context(const StepDecl& decl);
  bool resolve_step_target(const StepDecl& decl, StepRecord& rec, StepContext& context, const char* what);
  bool prepare_steps();
  bool target_changed(const StepDecl& decl, StepContext& context);
  bool apply_step(const StepDecl& decl, StepRecord& rec, StepContext& context, bool prepared);
  bool revert_step(const StepDecl& decl, StepRecord& rec, StepContext& context, bool aborted);
  // A lasting fault's wait until `deadline_ms`; a step that follows its target extends itself meanwhile
  // (runner_follow.cpp). True when the experiment was aborted.
  bool wait_lasting(const StepDecl& decl, StepRecord& rec, StepContext& context, double deadline_ms);
  struct FollowState;
  void follow_tick(const StepDecl& decl, StepRecord& rec, StepContext& context, FollowState& state);
  void set_deadline(const StepDecl& decl, StepContext& context);
  bool ended_by_guardian(const StepDecl& decl, StepRecord& rec, StepContext& context);
  void step_failed(const StepDecl& decl, StepRecord& rec, const std::string& what, const std::string& error);
  template <typename F>
  void update_step(F&& f) {
    std::lock_guard lock(steps_mutex_);
    f();
  }
  bool wait_abort_until(double deadline_ms);
  void trigger_abort();
  void check_guards();
  std::vector<std::string> active_faults();

  // runner_commands.cpp: setup, rollbacks, teardown.
  bool run_setup();
  void start_background(const CommandSpec& spec, size_t index, CommandRecord& rec);
  void wait_ready(const CommandSpec& spec, BackgroundProcess& process, const std::string& log, CommandRecord& rec);
  void run_commands(const std::vector<CommandSpec>& commands, const char* phase);
  void stop_background();

  const Experiment& ex_;
  RunOptions options_;
  FaultRecorder recorder_;
  Progress progress_;
  SteadyClock::time_point epoch_;
  RunResult result_;
  RunTimes times_;
  std::vector<std::unique_ptr<BackgroundProcess>> background_;
  std::vector<std::unique_ptr<Sampler>> samplers_;
  std::vector<StepContext> step_contexts_;  // one per method step, made before the method starts
  std::vector<char> prepared_;              // the step was prepared: it must be reverted whatever happens

  std::atomic<bool> abort_{false};
  std::mutex abort_mutex_;
  std::condition_variable abort_cv_;
  std::mutex steps_mutex_;
  std::atomic<bool> step_error_{false};
  bool setup_error_ = false;
  bool guard_tripped_ = false;
  int interrupted_by_ = 0;
  bool halted_ = false;
  double last_halt_check_ms_ = -1e9;
  std::string marker_path_;
  nlohmann::json marker_;
  double last_tick_ms_ = -1e9;
  double planned_ms_ = 0;
};

}  // namespace rebound
