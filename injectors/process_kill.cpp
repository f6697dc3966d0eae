#include "injectors/process_kill.hpp"

#include <csignal>
#include <cstring>
#include <fmt/format.h>

namespace rebound {

std::vector<ParamDoc> ProcessKill::params() {
  return {
      {"signal", "string or integer", "\"SIGKILL\"", "signal to send: name (SIGTERM, TERM) or number"},
      process_count_doc(),
  };
}

std::unique_ptr<StepAction> ProcessKill::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<ProcessKill>();
  if (const toml::node* n = reader.node("signal")) {
    auto signal = parse_signal(*n);
    if (!signal) {
      reader.error("signal", fmt::format("unknown signal {}: use a name such as \"SIGKILL\" or \"SIGTERM\", or a "
                                         "number from 1 to 64",
                                         describe_node(*n)));
      return nullptr;
    }
    step->signal_ = *signal;
  }
  if (!parse_process_count(reader, step->count_)) return nullptr;
  return step;
}

Result<void> ProcessKill::apply(StepContext& context) {
  nlohmann::json killed = nlohmann::json::array();
  for (const auto& p : first_processes(context.processes, count_)) {
    if (!process_is(p.pid, p.start_time)) continue;  // exited since it was resolved
    if (kill(p.pid, signal_) != 0)
      return fail_errno(fmt::format("cannot send {} to pid {}", signal_name(signal_), p.pid));
    killed.push_back({{"pid", p.pid}, {"comm", p.comm}});
  }
  if (killed.empty()) return fail("every matched process exited before the signal was sent");
  context.detail["signal"] = signal_name(signal_);
  context.detail["signalled"] = killed;
  context.effect = StepEffect{true, fmt::format("sent {} to {} process{}", signal_name(signal_), killed.size(),
                                                killed.size() == 1 ? "" : "es")};
  return {};
}

nlohmann::json ProcessKill::describe() const {
  return {{"signal", signal_name(signal_)}, {"count", count_ ? nlohmann::json(*count_) : nlohmann::json("all")}};
}

}  // namespace rebound
