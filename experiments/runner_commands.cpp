// The runner's commands: setup (in the foreground, or started in the background and waited for until a probe
// says it is ready), rollbacks and teardown (always run to the end), and stopping what setup started.
#include <fmt/format.h>
#include <thread>

#include "experiments/runner_impl.hpp"
#include "system/signals.hpp"

namespace rebound {
namespace {

void record_outcome(Result<CommandOutcome> outcome, const CommandSpec& spec, CommandRecord& rec) {
  if (!outcome) {
    rec.summary = outcome.error().message;
    return;
  }
  rec.ok = outcome->as_expected(spec);
  rec.summary = outcome->summary(spec);
  for (const auto& [key, value] : outcome->captured) rec.summary += fmt::format("; captured {} = {}", key, clip(value));
}

}  // namespace

void Runner::wait_ready(const CommandSpec& spec, BackgroundProcess& process, const std::string& log,
                        CommandRecord& rec) {
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
                        : fmt::format("; not ready: probe '{}' did not pass within {} (last: {})", spec.ready_probe,
                                      format_duration(spec.ready_timeout), last.reason);
}

void Runner::start_background(const CommandSpec& spec, size_t index, CommandRecord& rec) {
  std::string log = fmt::format("{}/setup-{}.log", options_.output_dir, index);
  auto started = BackgroundProcess::start(spec, log);
  if (!started) {
    rec.summary = started.error().message;
    return;
  }
  rec.pid = (*started)->pid();
  // Targets `setup = "NAME"` resolve to this process and its descendants from now on; its start time tells it
  // apart from a later process given the same pid (0 when it has exited already: it then matches nothing).
  for (const auto& t : ex_.targets)
    if (t.kind == TargetKind::setup && t.value == spec.name && t.setup_process)
      t.setup_process->set({*rec.pid, process_start_time(*rec.pid).value_or(0)});
  BackgroundProcess& process = **started;
  background_.push_back(std::move(*started));
  rec.ok = true;
  rec.summary = fmt::format("started in the background as pid {} (output: {})", *rec.pid, log);
  if (!spec.ready_probe.empty()) wait_ready(spec, process, log, rec);
}

bool Runner::run_setup() {
  for (size_t i = 0; i < ex_.setup.size(); ++i) {
    if (check_interrupt()) return false;
    const auto& spec = ex_.setup[i];
    CommandRecord rec{"setup", spec.name.empty() ? fmt::format("setup#{}", i) : spec.name, spec.argv, now_ms(), 0,
                      false, "", std::nullopt};
    if (spec.background) start_background(spec, i, rec);
    else record_outcome(run_command(spec, [] { return interrupt_signal() != 0; }), spec, rec);
    rec.ended_ms = now_ms();
    log_at(rec.ended_ms, fmt::format("setup {}: {}", rec.name, rec.summary));
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

void Runner::run_commands(const std::vector<CommandSpec>& commands, const char* phase) {
  for (size_t i = 0; i < commands.size(); ++i) {
    const auto& spec = commands[i];
    CommandRecord rec{phase, spec.name.empty() ? fmt::format("{}#{}", phase, i) : spec.name, spec.argv, now_ms(), 0,
                      false, "", std::nullopt};
    record_outcome(run_command(spec), spec, rec);  // not abortable: rollbacks and teardown always run to the end
    rec.ended_ms = now_ms();
    log_at(rec.ended_ms, fmt::format("{} {}: {}", phase, rec.name, rec.summary));
    if (!rec.ok && std::string(phase) == "rollback")
      result_.reasons.push_back(fmt::format("rollback '{}' failed: {}", rec.name, rec.summary));
    result_.commands.push_back(std::move(rec));
  }
}

void Runner::stop_background() {
  for (auto it = background_.rbegin(); it != background_.rend(); ++it) {
    pid_t pid = (*it)->pid();
    std::string how = (*it)->stop();
    log_at(now_ms(), fmt::format("teardown: background pid {} {}", pid, how));
  }
  background_.clear();
}

}  // namespace rebound
