#include "injectors/process_stop.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <thread>

#include "system/state_dir.hpp"
#include "injectors/process_holds.hpp"

namespace rebound {

std::vector<ParamDoc> ProcessStop::params() { return {process_count_doc()}; }

std::unique_ptr<StepAction> ProcessStop::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<ProcessStop>();
  if (!parse_process_count(reader, step->count_)) return nullptr;
  return step;
}

namespace {

// The state lock when there is a state directory (always, under the runner).
std::optional<Result<StateLock>> lock_state(const std::string& state_dir) {
  if (state_dir.empty()) return std::nullopt;
  return StateLock::acquire(state_dir);
}

struct Outcome {
  std::vector<std::string> resumed, gone, kept, errors;
};

// Releases the hold and sends SIGCONT unless a live rebound still holds the process (the caller holds the lock).
void resume(pid_t pid, uint64_t start_time, const std::string& hold, Outcome& out) {
  if (!hold.empty()) {
    auto holders = release_hold(hold);
    if (!holders.empty()) {
      out.kept.push_back(fmt::format("pid {} left frozen: still held by {}", pid, fmt::join(holders, ", ")));
      return;
    }
  }
  if (!process_is(pid, start_time)) {
    out.gone.push_back(std::to_string(pid));
    return;
  }
  if (kill(pid, SIGCONT) != 0) out.errors.push_back(fmt::format("pid {}: {}", pid, std::strerror(errno)));
  else out.resumed.push_back(std::to_string(pid));
}

// Waits briefly for the signalled process to reach the stopped state (SIGSTOP is delivered asynchronously);
// its state letter, 0 if it is gone.
char wait_stopped(const ProcessInfo& p, std::chrono::steady_clock::time_point deadline) {
  char state = process_state(p.pid);
  while (state != 'T' && state != 't' && state != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    state = process_state(p.pid);
  }
  return state;
}

// Notes in the step's detail which signalled processes stopped ("stopped", "not_stopped", appended to), and
// returns those that did not, one line each.
std::vector<std::string> note_stopped(const std::vector<ProcessInfo>& signalled, StepContext& context,
                                      size_t& stopped_count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  std::vector<std::string> missed;
  for (const auto& p : signalled) {
    const char state = wait_stopped(p, deadline);
    std::string letter = state ? std::string(1, state) : "gone";
    const bool stopped = state == 'T' || state == 't';
    context.detail[stopped ? "stopped" : "not_stopped"].push_back({{"pid", p.pid}, {"comm", p.comm}, {"state", letter}});
    if (stopped) ++stopped_count;
    else missed.push_back(fmt::format("pid {} did not stop (state {})", p.pid, letter));
  }
  return missed;
}

// States the step's effect: a process that did not stop (a zombie, an uninterruptible sleep) reached nothing.
void check_stopped(const std::vector<ProcessInfo>& signalled, StepContext& context) {
  context.detail["stopped"] = nlohmann::json::array();
  size_t stopped = 0;
  auto missed = note_stopped(signalled, context, stopped);
  std::string summary = fmt::format("stopped {} of {} processes", stopped, signalled.size());
  if (stopped > 0) summary += " (state T)";
  if (!missed.empty()) summary += fmt::format("{} {}", stopped == 0 ? ":" : ";", fmt::join(missed, ", "));
  if (signalled.empty()) summary += ": every matched process exited before the signal";
  context.effect = StepEffect{stopped > 0, summary};
}

}  // namespace

std::string ProcessStop::stop_all(StepContext& context, const std::vector<ProcessInfo>& chosen,
                                  const std::vector<std::string>& holds, std::vector<ProcessInfo>& signalled) {
  auto lock = lock_state(state_dir_);
  if (lock && !*lock) return lock->error().message;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const auto& p = chosen[i];
    if (!process_is(p.pid, p.start_time)) continue;
    if (!holds[i].empty())
      if (auto held = add_hold(state_dir_, holds[i], {{"experiment", context.experiment}, {"step", context.step}});
          !held)
        return held.error().message;
    stopped_.push_back({p, holds[i]});  // before the signal: a failed SIGSTOP still releases its hold
    if (kill(p.pid, SIGSTOP) == 0) signalled.push_back(p);
    else if (errno != ESRCH)  // one that exited meanwhile needs nothing
      return fmt::format("cannot send SIGSTOP to pid {}: {}", p.pid, std::strerror(errno));
  }
  return "";
}

// Each process's hold, noted in the undo for SIGCONT.
static std::vector<std::string> note_holds(const std::string& state_dir, const std::vector<ProcessInfo>& chosen,
                                           nlohmann::json& undo) {
  std::vector<std::string> holds;
  for (const auto& p : chosen) {
    holds.push_back(state_dir.empty() ? "" : make_hold_path(state_dir, p));
    undo["sigcont"].push_back({{"pid", p.pid}, {"start_time", p.start_time}, {"hold", holds.back()}});
  }
  return holds;
}

Result<void> ProcessStop::apply(StepContext& context) {
  const std::vector<ProcessInfo> chosen = first_processes(context.processes, count_);
  state_dir_ = context.recorder ? context.recorder->dir() : "";
  undo_ = {{"state_dir", state_dir_}, {"sigcont", nlohmann::json::array()}};
  const auto holds = note_holds(state_dir_, chosen, undo_);
  // The record comes first: if rebound dies right after SIGSTOP, its guardian or `rebound recover` still knows.
  if (auto r = context.record(undo_); !r) return r;
  std::vector<ProcessInfo> signalled;
  if (auto error = stop_all(context, chosen, holds, signalled); !error.empty()) {
    (void)revert(context);  // the error that matters is the one that stopped the apply
    return fail(error);
  }
  check_stopped(signalled, context);
  return {};
}

Result<std::vector<ProcessInfo>> ProcessStop::extend(StepContext& context, const std::vector<ProcessInfo>& newcomers) {
  auto live = static_cast<int64_t>(std::count_if(stopped_.begin(), stopped_.end(), [](const Stopped& s) {
    return process_is(s.process.pid, s.process.start_time);
  }));
  std::vector<ProcessInfo> chosen;
  for (const auto& p : newcomers)
    if (!count_ || live + static_cast<int64_t>(chosen.size()) < *count_) chosen.push_back(p);
  if (chosen.empty()) return chosen;
  const auto holds = note_holds(state_dir_, chosen, undo_);
  if (auto r = context.update_record(undo_); !r) return r.error();  // recorded before the signal, as in apply
  std::vector<ProcessInfo> signalled;
  auto error = stop_all(context, chosen, holds, signalled);  // what it stopped is resumed at revert
  size_t stopped = 0;
  (void)note_stopped(signalled, context, stopped);
  if (!error.empty()) return fail(error);
  return signalled;
}

Result<void> ProcessStop::revert(StepContext& context) {
  Outcome out;
  {
    auto lock = lock_state(state_dir_);
    // Without the lock, resuming is still better than leaving a process frozen.
    if (lock && !*lock) out.errors.push_back(lock->error().message);
    for (const auto& s : stopped_) resume(s.process.pid, s.process.start_time, s.hold, out);
  }
  stopped_.clear();
  nlohmann::json resumed = nlohmann::json::array();
  for (const auto& pid : out.resumed) resumed.push_back(std::stoi(pid));
  context.detail["resumed"] = resumed;
  if (!out.kept.empty()) context.detail["kept_frozen"] = out.kept;
  if (!out.errors.empty()) return fail(fmt::format("cannot send SIGCONT: {}", fmt::join(out.errors, "; ")));
  return {};
}

Result<std::string> ProcessStop::recover(const nlohmann::json& undo) {
  const std::string state_dir = undo.value("state_dir", "");
  Outcome out;
  {
    auto lock = lock_state(state_dir);
    if (lock && !*lock) out.errors.push_back(lock->error().message);
    for (const auto& entry : undo.value("sigcont", nlohmann::json::array())) {
      std::string hold = entry.value("hold", "");
      if (!hold.empty() && !is_hold_path(state_dir, hold)) {
        out.errors.push_back(fmt::format("pid {}: the record names {} as its hold, outside {}/holds: refused",
                                         entry.value("pid", 0), hold, state_dir));
        continue;
      }
      resume(entry.value("pid", 0), entry.value("start_time", uint64_t{0}), hold, out);
    }
  }
  if (!out.errors.empty()) return fail(fmt::format("cannot send SIGCONT: {}", fmt::join(out.errors, "; ")));
  std::string text = out.resumed.empty() ? "nothing to resume"
                                         : fmt::format("sent SIGCONT to pid {}", fmt::join(out.resumed, ", "));
  if (!out.gone.empty()) text += fmt::format(" (pid {} no longer running)", fmt::join(out.gone, ", "));
  if (!out.kept.empty()) text += fmt::format("; {}", fmt::join(out.kept, "; "));
  return text;
}

nlohmann::json ProcessStop::describe() const {
  return {{"count", count_ ? nlohmann::json(*count_) : nlohmann::json("all")}};
}

}  // namespace rebound
