#include "injectors/recovery.hpp"

#include <fmt/format.h>

#include "experiments/fault_record.hpp"
#include "injectors/registry.hpp"

namespace rebound {

RecoveryReport recover_leftovers(const std::string& state_dir, bool force) {
  RecoveryReport report;
  FaultRecorder recorder(state_dir);
  for (const auto& file : list_fault_records(state_dir)) {
    if (file.record.is_null()) {
      ++report.failed;
      report.lines.push_back(fmt::format("{}: unreadable record; inspect and remove it by hand", file.path));
      continue;
    }
    const auto& r = file.record;
    std::string what = fmt::format("{} '{}' of experiment '{}'", r.value("type", "?"), r.value("step", "?"),
                                   r.value("experiment", "?"));
    if (!force && record_owner_alive(r)) {
      ++report.skipped;
      report.lines.push_back(fmt::format("{}: left alone, rebound pid {} is still running it (use --force to undo it "
                                         "anyway)",
                                         what, r["owner"].value("pid", 0)));
      continue;
    }
    const StepType* type = find_step_type(r.value("type", ""));
    if (!type || !type->recover) {
      ++report.failed;
      report.lines.push_back(fmt::format("{}: this rebound does not know how to undo it ({})", what, file.path));
      continue;
    }
    auto done = type->recover(r.value("undo", nlohmann::json::object()));
    if (!done) {
      ++report.failed;
      report.lines.push_back(fmt::format("{}: {}", what, done.error().message));
      continue;
    }
    recorder.clear(file.path);
    ++report.recovered;
    report.lines.push_back(fmt::format("{}: {}", what, *done));
  }
  return report;
}

}  // namespace rebound
