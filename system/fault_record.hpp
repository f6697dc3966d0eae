#pragma once
// The record of applied faults: one fsync'd JSON file per fault, written before the fault is applied
// and removed once it is reverted. The guardian (system/guardian.hpp) and `rebound recover` read
// what a dead rebound left behind; only files that pass the checks of system/state_dir.hpp count.
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"

namespace rebound {

// A rebound process as records name it: pid plus start time, so that a reused pid is not mistaken for it.
struct RecordOwner {
  pid_t pid = 0;
  uint64_t start_time = 0;
  static RecordOwner self();
  nlohmann::json to_json() const { return {{"pid", pid}, {"start_time", start_time}}; }
};

// How long past its duration a lasting fault may last before the guardian ends it (its hard deadline).
constexpr int64_t kFaultDeadlineMarginMs = 2000;

class FaultRecorder {
 public:
  // `report_dir`: the folder of the experiment's journal, written into every record so that the guardian can
  // leave a `crashed` journal there when rebound dies.
  explicit FaultRecorder(std::string dir, std::string report_dir = "")
      : dir_(std::move(dir)), report_dir_(std::move(report_dir)) {}
  // Writes the record durably; returns its path.
  [[nodiscard]] Result<std::string> record(nlohmann::json fault);
  Result<void> clear(const std::string& path);
  const std::string& dir() const { return dir_; }

  // A run marker (STATE/runs/*.json) says which experiment this rebound is running and where its journal goes,
  // from the start of the run until its end; a marker left by a dead rebound makes the guardian write a
  // `crashed` journal there.
  [[nodiscard]] Result<std::string> begin_run(nlohmann::json run);
  void end_run(const std::string& path);
  // Rewrites a run marker with what the run is doing now (its phase), for `rebound status`.
  [[nodiscard]] Result<void> update_run(const std::string& path, nlohmann::json run);

  // The hard deadline of an applied lasting fault (duration + margin, on the wall clock): written into its record,
  // so that the guardian ends the fault then even if rebound's main loop hangs (system/guardian.hpp).
  [[nodiscard]] Result<void> set_deadline(const std::string& record_path, int64_t deadline_unix_ms);
  // Replaces the undo of a record (a fault that followed its target to new processes); the rest stays.
  [[nodiscard]] Result<void> update_undo(const std::string& record_path, const nlohmann::json& undo);

  // REBOUND_STATE_DIR, else /run/rebound as root, else $XDG_RUNTIME_DIR/rebound or /tmp/rebound-UID.
  static std::string default_dir();

 private:
  std::string dir_;
  std::string report_dir_;
};

struct FaultRecordFile {
  std::string path;
  nlohmann::json record;  // null when the file was refused or unreadable
  std::string problem;    // why it was refused, for people
};
// Every record in dir (fault-*.json), oldest first, read without following links; files that are not rebound's
// (see read_trusted_file) are returned with a null record and the reason.
std::vector<FaultRecordFile> list_fault_records(const std::string& dir);
// Every run marker in dir/runs, the same way.
std::vector<FaultRecordFile> list_run_markers(const std::string& dir);
// Where the guardian moves a record whose fault it ended at its deadline (fault-X.json -> expired-X.json): the
// runner finds it there when it wakes, and says that the guardian ended the fault.
std::string expired_record_path(const std::string& record_path);
std::vector<FaultRecordFile> list_expired_records(const std::string& dir);
int64_t unix_now_ms();

// True while the rebound that wrote the record is still running.
bool record_owner_alive(const nlohmann::json& record);
// True when the record was written by that rebound.
bool record_owned_by(const nlohmann::json& record, const RecordOwner& owner);

}  // namespace rebound
