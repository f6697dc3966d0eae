#include "injectors/recovery.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "system/state_dir.hpp"
#include "injectors/registry.hpp"

namespace rebound {

namespace {

// Undoes one trusted record through its type's recover function; the record goes once it is undone.
void recover_one(const FaultRecordFile& file, RecoveryReport& report) {
  const auto& r = file.record;
  RecoveredFault fault{r.value("experiment", "?"), r.value("step", "?"), r.value("type", "?"),
                       r.value("report_dir", ""), false, ""};
  std::string what = fmt::format("{} '{}' of experiment '{}'", fault.type, fault.step, fault.experiment);
  const StepType* type = find_step_type(fault.type);
  if (!type || !type->recover) {
    fault.outcome = fmt::format("this rebound does not know how to undo it ({})", file.path);
  } else {
    const nlohmann::json undo = r.contains("undo") && r["undo"].is_object() ? r["undo"] : nlohmann::json::object();
    Result<std::string> done = fail("not undone");
    try {
      done = type->recover(undo);
    } catch (const std::exception& e) {
      done = fail(fmt::format("malformed record {}: {}", file.path, e.what()));
    }
    fault.ok = done.ok();
    fault.outcome = done ? *done : done.error().message;
  }
  if (fault.ok) {
    unlink(file.path.c_str());
    ++report.recovered;
  } else {
    ++report.failed;
  }
  report.lines.push_back(fmt::format("{}: {}", what, fault.outcome));
  report.faults.push_back(std::move(fault));
}

template <class Choose>
RecoveryReport recover_records(const std::string& state_dir, bool report_refused, Choose&& choose) {
  RecoveryReport report;
  if (auto trusted = check_state_dir(state_dir); !trusted) {
    report.refused = trusted.error().message;
    report.failed = 1;
    report.lines.push_back(report.refused);
    return report;
  }
  for (const auto& file : list_fault_records(state_dir)) {
    if (file.record.is_null()) {
      if (!report_refused) continue;  // not known to be this owner's: someone else's business
      ++report.failed;
      report.lines.push_back(file.problem);
      continue;
    }
    try {
      if (choose(file, report)) recover_one(file, report);
    } catch (const std::exception& e) {  // a field of the wrong type: the record is damaged
      ++report.failed;
      report.lines.push_back(fmt::format("{}: malformed record ({}); inspect and remove it by hand", file.path, e.what()));
    }
  }
  return report;
}

}  // namespace

RecoveryReport recover_leftovers(const std::string& state_dir, bool force) {
  return recover_records(state_dir, true, [force](const FaultRecordFile& file, RecoveryReport& report) {
    const auto& r = file.record;
    if (force || !record_owner_alive(r)) return true;
    ++report.skipped;
    report.lines.push_back(fmt::format("{} '{}' of experiment '{}': left alone, rebound pid {} is still running it (use "
                                       "--force to undo it anyway)",
                                       r.value("type", "?"), r.value("step", "?"), r.value("experiment", "?"),
                                       r["owner"].value("pid", 0)));
    return false;
  });
}

RecoveryReport recover_owned_by(const std::string& state_dir, const RecordOwner& owner) {
  return recover_records(state_dir, false,
                         [&owner](const FaultRecordFile& file, RecoveryReport&) { return record_owned_by(file.record, owner); });
}

}  // namespace rebound
