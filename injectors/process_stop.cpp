#include "injectors/process_stop.hpp"

#include <csignal>
#include <cstring>
#include <fmt/format.h>

namespace rebound {

std::vector<ParamDoc> ProcessStop::params() { return {process_count_doc()}; }

std::unique_ptr<StepAction> ProcessStop::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<ProcessStop>();
  if (!parse_process_count(reader, step->count_)) return nullptr;
  return step;
}

static nlohmann::json undo_list(const std::vector<ProcessInfo>& processes) {
  nlohmann::json pids = nlohmann::json::array();
  for (const auto& p : processes) pids.push_back({{"pid", p.pid}, {"start_time", p.start_time}});
  return {{"sigcont", pids}};
}

Result<void> ProcessStop::apply(StepContext& context) {
  const std::vector<ProcessInfo> chosen = first_processes(context.processes, count_);
  // The record comes first: if rebound dies right after SIGSTOP, `rebound recover` still knows.
  if (auto r = context.record(undo_list(chosen)); !r) return r;
  nlohmann::json done = nlohmann::json::array();
  for (const auto& p : chosen) {
    if (!process_is(p.pid, p.start_time)) continue;
    if (kill(p.pid, SIGSTOP) != 0) {
      auto error = fmt::format("cannot send SIGSTOP to pid {}: {}", p.pid, std::strerror(errno));
      revert(context);
      return fail(error);
    }
    stopped_.push_back(p);
    done.push_back({{"pid", p.pid}, {"comm", p.comm}});
  }
  context.detail["stopped"] = done;
  return {};
}

Result<void> ProcessStop::revert(StepContext& context) {
  std::vector<std::string> errors;
  nlohmann::json resumed = nlohmann::json::array();
  for (const auto& p : stopped_) {
    if (!process_is(p.pid, p.start_time)) continue;  // gone: nothing to resume
    if (kill(p.pid, SIGCONT) != 0) errors.push_back(fmt::format("pid {}: {}", p.pid, std::strerror(errno)));
    else resumed.push_back(p.pid);
  }
  stopped_.clear();
  context.detail["resumed"] = resumed;
  if (!errors.empty()) return fail(fmt::format("cannot send SIGCONT: {}", fmt::join(errors, "; ")));
  return {};
}

Result<std::string> ProcessStop::recover(const nlohmann::json& undo) {
  std::vector<std::string> resumed, gone, errors;
  for (const auto& entry : undo.value("sigcont", nlohmann::json::array())) {
    pid_t pid = entry.value("pid", 0);
    if (!process_is(pid, entry.value("start_time", uint64_t{0}))) {
      gone.push_back(std::to_string(pid));
      continue;
    }
    if (kill(pid, SIGCONT) != 0) errors.push_back(fmt::format("pid {}: {}", pid, std::strerror(errno)));
    else resumed.push_back(std::to_string(pid));
  }
  if (!errors.empty()) return fail(fmt::format("cannot send SIGCONT: {}", fmt::join(errors, "; ")));
  std::string out = resumed.empty() ? "nothing to resume" : fmt::format("sent SIGCONT to pid {}", fmt::join(resumed, ", "));
  if (!gone.empty()) out += fmt::format(" (pid {} no longer running)", fmt::join(gone, ", "));
  return out;
}

nlohmann::json ProcessStop::describe() const {
  return {{"count", count_ ? nlohmann::json(*count_) : nlohmann::json("all")}};
}

}  // namespace rebound
