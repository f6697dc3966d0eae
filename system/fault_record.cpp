#include "system/fault_record.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

#include "system/state_dir.hpp"
#include "system/targets.hpp"

namespace fs = std::filesystem;

namespace rebound {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
int64_t unix_ms() { return unix_now_ms(); }
std::atomic<int> g_sequence{0};

std::vector<FaultRecordFile> list_records(const std::string& dir, const std::string& prefix) {
  std::vector<FaultRecordFile> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!name.starts_with(prefix) || !name.ends_with(".json")) continue;
    FaultRecordFile f{entry.path().string(), nullptr, ""};
    auto text = read_trusted_file(f.path);
    if (!text) {
      f.problem = text.error().message;
    } else {
      f.record = nlohmann::json::parse(*text, nullptr, false);
      if (f.record.is_discarded() || !f.record.is_object()) {
        f.record = nullptr;
        f.problem = fmt::format("{}: unreadable record; inspect and remove it by hand", f.path);
      }
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}
}  // namespace

RecordOwner RecordOwner::self() {
  static const RecordOwner me = [] {
    auto info = read_process(getpid());
    return RecordOwner{getpid(), info ? info->start_time : 0};
  }();
  // After a fork the cached value names the parent.
  if (me.pid != getpid()) {
    auto info = read_process(getpid());
    return RecordOwner{getpid(), info ? info->start_time : 0};
  }
  return me;
}

std::string FaultRecorder::default_dir() {
  if (const char* dir = std::getenv("REBOUND_STATE_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/run/rebound";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) return std::string(runtime) + "/rebound";
  return fmt::format("/tmp/rebound-{}", geteuid());
}

Result<std::string> FaultRecorder::record(nlohmann::json fault) {
  if (auto ok = prepare_state_dir(dir_); !ok) return ok.error();
  fault["owner"] = RecordOwner::self().to_json();
  fault["recorded_at_unix_ms"] = unix_ms();
  if (!report_dir_.empty()) fault["report_dir"] = report_dir_;
  std::string path = fmt::format("{}/fault-{}-{}-{}.json", dir_, getpid(), fault["recorded_at_unix_ms"].get<int64_t>(),
                                 g_sequence++);
  if (auto w = write_state_file(path, fault.dump(2)); !w) return w.error();
  return path;
}

Result<void> FaultRecorder::clear(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("cannot remove fault record {}", path));
  return {};
}

Result<std::string> FaultRecorder::begin_run(nlohmann::json run) {
  if (auto ok = prepare_state_dir(dir_); !ok) return ok.error();
  if (auto ok = prepare_state_subdir(dir_ + "/runs"); !ok) return ok.error();
  run["owner"] = RecordOwner::self().to_json();
  run["report_dir"] = report_dir_;
  std::string path = fmt::format("{}/runs/run-{}-{}-{}.json", dir_, getpid(), unix_ms(), g_sequence++);
  if (auto w = write_state_file(path, run.dump(2)); !w) return w.error();
  return path;
}

void FaultRecorder::end_run(const std::string& path) {
  if (!path.empty()) unlink(path.c_str());
}

Result<void> FaultRecorder::update_run(const std::string& path, nlohmann::json run) {
  if (path.empty()) return {};
  run["owner"] = RecordOwner::self().to_json();
  run["report_dir"] = report_dir_;
  return write_state_file(path, run.dump(2));
}

namespace {
// Rewrites one key of a record written by FaultRecorder::record.
Result<void> update_record(const std::string& record_path, const char* key, const nlohmann::json& value) {
  auto text = read_trusted_file(record_path);
  if (!text) return text.error();
  auto record = nlohmann::json::parse(*text, nullptr, false);
  if (!record.is_object()) return fail(fmt::format("{}: unreadable record", record_path));
  record[key] = value;
  return write_state_file(record_path, record.dump(2));
}
}  // namespace

Result<void> FaultRecorder::set_deadline(const std::string& record_path, int64_t deadline_unix_ms) {
  return update_record(record_path, "deadline_unix_ms", deadline_unix_ms);
}

Result<void> FaultRecorder::update_undo(const std::string& record_path, const nlohmann::json& undo) {
  return update_record(record_path, "undo", undo);
}

std::string expired_record_path(const std::string& record_path) {
  fs::path p(record_path);
  std::string name = p.filename().string();
  if (name.starts_with("fault-")) name = "expired-" + name.substr(6);
  return (p.parent_path() / name).string();
}

std::vector<FaultRecordFile> list_fault_records(const std::string& dir) { return list_records(dir, "fault-"); }
std::vector<FaultRecordFile> list_expired_records(const std::string& dir) { return list_records(dir, "expired-"); }

std::vector<FaultRecordFile> list_run_markers(const std::string& dir) {
  if (!check_state_dir(dir + "/runs")) return {};
  return list_records(dir + "/runs", "run-");
}

bool record_owner_alive(const nlohmann::json& record) {
  if (!record.is_object() || !record.contains("owner") || !record["owner"].is_object()) return false;
  const auto& owner = record["owner"];
  return process_is(owner.value("pid", 0), owner.value("start_time", uint64_t{0}));
}

bool record_owned_by(const nlohmann::json& record, const RecordOwner& owner) {
  if (!record.is_object() || !record.contains("owner") || !record["owner"].is_object()) return false;
  const auto& o = record["owner"];
  return o.value("pid", 0) == owner.pid && o.value("start_time", uint64_t{0}) == owner.start_time;
}

}  // namespace rebound
