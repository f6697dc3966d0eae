#include "injectors/process_holds.hpp"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <unistd.h>

#include "system/fault_record.hpp"
#include "system/state_dir.hpp"

namespace fs = std::filesystem;

namespace rebound {

std::string make_hold_path(const std::string& state_dir, const ProcessInfo& p) {
  static std::atomic<int> sequence{0};
  const auto self = RecordOwner::self();
  return fmt::format("{}/holds/process-{}-{}/{}-{}-{}.json", state_dir, p.pid, p.start_time, self.pid, self.start_time,
                     sequence++);
}

bool is_hold_path(const std::string& state_dir, const std::string& path) {
  fs::path p(path);
  return !state_dir.empty() && path.find("/../") == std::string::npos && p.extension() == ".json" &&
         p.parent_path().parent_path() == fs::path(state_dir) / "holds" &&
         p.parent_path().filename().string().starts_with("process-");
}

Result<void> add_hold(const std::string& state_dir, const std::string& path, nlohmann::json who) {
  if (auto ok = prepare_state_subdir(state_dir + "/holds"); !ok) return ok;
  if (auto ok = prepare_state_subdir(fs::path(path).parent_path().string()); !ok) return ok;
  who["owner"] = RecordOwner::self().to_json();
  return write_state_file(path, who.dump());
}

std::vector<std::string> release_hold(const std::string& path) {
  unlink(path.c_str());
  const auto dir = fs::path(path).parent_path();
  std::vector<std::string> holders;
  if (!check_state_dir(dir.string())) return holders;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    auto text = read_trusted_file(entry.path().string());
    if (!text) continue;  // not rebound's: does not count
    auto hold = nlohmann::json::parse(*text, nullptr, false);
    if (hold.is_discarded() || !hold.is_object() || !record_owner_alive(hold)) {
      unlink(entry.path().c_str());  // stale: its rebound is gone
      continue;
    }
    holders.push_back(fmt::format("experiment '{}' step '{}' (rebound pid {})", hold.value("experiment", "?"),
                                  hold.value("step", "?"), hold["owner"].value("pid", 0)));
  }
  if (holders.empty()) rmdir(dir.c_str());
  return holders;
}

}  // namespace rebound
