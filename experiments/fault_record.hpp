#pragma once
// The record of applied faults: one fsync'd JSON file per fault, written before the fault is applied
// and removed once it is reverted. `rebound recover` reads what a dead rebound left behind.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/result.hpp"

namespace rebound {

class FaultRecorder {
 public:
  explicit FaultRecorder(std::string dir) : dir_(std::move(dir)) {}
  // Writes the record durably; returns its path.
  Result<std::string> record(nlohmann::json fault);
  Result<void> clear(const std::string& path);
  const std::string& dir() const { return dir_; }

  // REBOUND_STATE_DIR, else /run/rebound as root, else $XDG_RUNTIME_DIR/rebound or /tmp/rebound-UID.
  static std::string default_dir();

 private:
  std::string dir_;
};

struct FaultRecordFile {
  std::string path;
  nlohmann::json record;
};
// Every record in dir, oldest first; unreadable files are returned with a null record.
std::vector<FaultRecordFile> list_fault_records(const std::string& dir);
// True while the rebound that wrote the record is still running.
bool record_owner_alive(const nlohmann::json& record);

}  // namespace rebound
