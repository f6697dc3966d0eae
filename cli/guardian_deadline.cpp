// The guardian's timer: ends every lasting fault of the rebound it watches whose hard deadline (duration +
// margin, written into the fault's record by the runner) has passed, even though that rebound still lives: its
// main thread hung, or it was stopped. The record moves to expired-*.json, where the runner finds it when it
// wakes and ends the run `error`, saying the guardian ended the fault.
#include <algorithm>
#include <fmt/format.h>
#include <set>
#include <unistd.h>

#include "cli/guardian.hpp"
#include "injectors/registry.hpp"
#include "system/state_dir.hpp"

namespace rebound {

namespace {

constexpr int64_t kScanMs = 250;  // how often the guardian looks for new records and their deadlines

// Reverts one record through its type's recover function; the outcome, or why not.
Result<std::string> undo_record(const nlohmann::json& record) {
  const StepType* type = find_step_type(record.value("type", ""));
  if (!type || !type->recover) return fail("this rebound does not know how to undo it");
  const nlohmann::json undo = record.contains("undo") && record["undo"].is_object() ? record["undo"]
                                                                                     : nlohmann::json::object();
  try {
    return type->recover(undo);
  } catch (const std::exception& e) {
    return fail(fmt::format("malformed record: {}", e.what()));
  }
}

void end_expired(const GuardianArgs& args, const FaultRecordFile& file, int64_t now) {
  static std::set<std::string> failed;  // said once in the log, retried at every scan
  const auto& r = file.record;
  const std::string what = fmt::format("{} '{}' of experiment '{}'", r.value("type", "?"), r.value("step", "?"),
                                       r.value("experiment", "?"));
  // The fault is claimed first (its expired record, no outcome yet): a rebound that wakes while the guardian
  // ends it sees the claim and waits, rather than reverting too and calling its run a pass.
  const std::string claim = expired_record_path(file.path);
  (void)write_state_file(claim, r.dump(2));
  auto done = undo_record(r);
  if (!done) {
    unlink(claim.c_str());  // not ended: rebound, if it wakes, reverts it itself
    if (failed.insert(file.path).second)
      guardian_log(args.state_dir, {fmt::format("rebound pid {} did not revert {} by its deadline; the guardian cannot "
                                                "end it: {} (retrying)",
                                                args.parent.pid, what, done.error().message)});
    return;
  }
  nlohmann::json expired = r;
  expired["guardian_outcome"] = *done;
  expired["ended_by_guardian_unix_ms"] = now;
  // The expired record with its outcome first, then the fault's record goes: the runner waits for that.
  auto written = write_state_file(claim, expired.dump(2));
  unlink(file.path.c_str());
  guardian_log(args.state_dir,
               {fmt::format("rebound pid {} did not revert {} by its deadline ({} ms late; stopped or hung): the "
                            "guardian ended it: {}{}",
                            args.parent.pid, what, now - r.value("deadline_unix_ms", now), *done,
                            written ? "" : fmt::format(" (cannot write {}: {})", claim,
                                                       written.error().message))});
}

}  // namespace

int enforce_fault_deadlines(const GuardianArgs& args) {
  const int64_t now = unix_now_ms();
  int64_t next = now + kScanMs;
  for (const auto& file : list_fault_records(args.state_dir)) {
    const auto& r = file.record;
    if (r.is_null() || !record_owned_by(r, args.parent)) continue;
    if (!r.contains("deadline_unix_ms") || !r["deadline_unix_ms"].is_number_integer()) continue;
    const int64_t deadline = r["deadline_unix_ms"].get<int64_t>();
    if (deadline > now) next = std::min(next, deadline);
    else end_expired(args, file, now);
  }
  return static_cast<int>(std::clamp<int64_t>(next - unix_now_ms(), 1, kScanMs));
}

}  // namespace rebound
