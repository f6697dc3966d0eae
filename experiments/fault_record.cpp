#include "experiments/fault_record.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include "experiments/targets.hpp"

namespace fs = std::filesystem;

namespace rebound {

std::string FaultRecorder::default_dir() {
  if (const char* dir = std::getenv("REBOUND_STATE_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/run/rebound";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) return std::string(runtime) + "/rebound";
  return fmt::format("/tmp/rebound-{}", geteuid());
}

static Result<void> write_durably(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0)
    return fail(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  int dir = open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return {};
}

Result<std::string> FaultRecorder::record(nlohmann::json fault) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fail(fmt::format("cannot create state directory {}: {}", dir_, ec.message()));
  static std::atomic<int> sequence{0};
  auto self = read_process(getpid());
  fault["owner"] = {{"pid", getpid()}, {"start_time", self ? self->start_time : 0}};
  fault["recorded_at_unix_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  std::string path = fmt::format("{}/fault-{}-{}-{}.json", dir_, getpid(),
                                 fault["recorded_at_unix_ms"].get<int64_t>(), sequence++);
  if (auto w = write_durably(path, fault.dump(2)); !w) return w.error();
  return path;
}

Result<void> FaultRecorder::clear(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(fmt::format("cannot remove fault record {}: {}", path, std::strerror(errno)));
  return {};
}

std::vector<FaultRecordFile> list_fault_records(const std::string& dir) {
  std::vector<FaultRecordFile> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!name.starts_with("fault-") || !name.ends_with(".json")) continue;
    FaultRecordFile f{entry.path().string(), nullptr};
    std::ifstream in(f.path);
    f.record = nlohmann::json::parse(in, nullptr, false);
    if (f.record.is_discarded()) f.record = nullptr;
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

bool record_owner_alive(const nlohmann::json& record) {
  if (!record.is_object() || !record.contains("owner")) return false;
  const auto& owner = record["owner"];
  return process_is(owner.value("pid", 0), owner.value("start_time", uint64_t{0}));
}

}  // namespace rebound
