#include "injectors/host/io_stress.hpp"

#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config/byte_size.hpp"
#include "injectors/host/work_name.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {
constexpr const char* kWorkPrefix = ".rebound-io-";

bool is_work_dir(const std::string& path) {
  return fs::path(path).filename().string().rfind(kWorkPrefix, 0) == 0 && path.starts_with('/');
}
}  // namespace

std::vector<ParamDoc> IoStress::params() {
  return {{"path", "string", "(required)", "a folder on the file system to load (a work folder is made under it)"},
          {"workers", "integer", "1", "stress-ng hdd workers"},
          {"size", "string", "\"64MiB\"", "bytes each worker writes, reads back, and writes again"}};
}

std::unique_ptr<StepAction> IoStress::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<IoStress>();
  if (auto duration = reader.duration("duration"))
    step->timeout_s_ = StressNg::timeout_for(*duration);
  auto path = reader.string("path", true);
  auto workers = reader.integer("workers");
  auto size = read_size(reader, "size");
  if (!path) return nullptr;
  if (!path->starts_with('/')) {
    reader.error("path", fmt::format("'{}' is relative: write the absolute path of a folder", *path));
    return nullptr;
  }
  if (workers && (*workers < 1 || *workers > 64)) {
    reader.error("workers", fmt::format("{} workers: write 1 to 64", *workers));
    return nullptr;
  }
  if (reader.has("size") && !size) return nullptr;  // the error is recorded
  if (size && size->bytes && *size->bytes < (1ULL << 20)) {
    reader.error("size", fmt::format("{} per worker is too little to load a disk: write at least \"1MiB\"",
                                     format_bytes(*size->bytes)));
    return nullptr;
  }
  step->path_ = *path;
  step->workers_ = workers.value_or(1);
  if (size && size->bytes) step->size_ = *size->bytes;
  return step;
}

Result<void> IoStress::preflight() {
  if (auto exe = StressNg::program(); !exe) return fail(fmt::format("io.stress: {}", exe.error().message));
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0)
    return fail(fmt::format("io.stress: path {}: {} (it must exist before the run)", path_, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("io.stress: path {} is not a folder", path_));
  struct statvfs space {};
  if (::statvfs(path_.c_str(), &space) != 0) return fail_errno(fmt::format("io.stress: cannot read the space of {}", path_));
  if (space.f_flag & ST_RDONLY) return fail(fmt::format("io.stress: {} is on a read-only file system", path_));
  const uint64_t available = static_cast<uint64_t>(space.f_bavail) * space.f_frsize;
  const uint64_t needed = size_ * static_cast<uint64_t>(workers_);
  if (needed > available / 2)
    return fail(fmt::format("io.stress: {} workers of {} need {}, more than half of the {} free on {}: lower size or "
                            "workers (io.stress loads a disk; disk.fill fills one)",
                            workers_, format_bytes(size_), format_bytes(needed), format_bytes(available), path_));
  return {};
}

Result<void> IoStress::apply(StepContext& context) {
  work_dir_ = path_ + "/" + work_name(kWorkPrefix, context.step);
  // The record comes first: a rebound that dies now still has its folder removed.
  if (auto r = context.record({{"work_dir", work_dir_}}); !r) return r;
  if (::mkdir(work_dir_.c_str(), 0700) != 0) {
    auto error = fail_errno(fmt::format("io.stress: cannot make {}", work_dir_));
    work_dir_.clear();
    return error;
  }
  const std::vector<std::string> args = {"--hdd", std::to_string(workers_), "--hdd-bytes", std::to_string(size_),
                                         "--temp-path", work_dir_};
  if (auto r = stress_.start(context, {{"work_dir", work_dir_}}, args, "", {}, timeout_s_); !r) return r;
  auto running = stress_.wait_running(static_cast<size_t>(workers_), std::chrono::seconds(3));
  if (!running) {
    (void)stress_.stop();
    return fail(fmt::format("io.stress: stress-ng did not start its {} hdd workers within 3 s", workers_));
  }
  context.detail["stressors_running_after_ms"] = *running;
  context.detail["work_dir"] = work_dir_;
  context.detail["workers"] = workers_;
  context.detail["size_per_worker_bytes"] = size_;
  return {};
}

Result<void> IoStress::revert(StepContext& context) {
  const IoCounters io = stress_.io();
  const bool ended_early = !stress_.running();
  auto r = stress_.stop();
  std::error_code ec;
  if (!work_dir_.empty()) fs::remove_all(work_dir_, ec);
  context.detail["written_bytes"] = io.written;
  context.detail["read_bytes"] = io.read;
  context.detail["device_written_bytes"] = io.device_written;
  context.detail["device_read_bytes"] = io.device_read;
  std::string summary = fmt::format("wrote {} and read {} on {} ({} reached the device, the rest the page cache)",
                                    format_bytes(io.written), format_bytes(io.read), path_, format_bytes(io.device_written));
  if (ended_early) summary += "; stress-ng ended before the fault did";
  context.effect = StepEffect{io.written + io.read > 0, summary};
  if (ec) return fail(fmt::format("io.stress: cannot remove {}: {}", work_dir_, ec.message()));
  return r;
}

Result<std::string> IoStress::recover(const nlohmann::json& undo) {
  std::string said;
  if (undo.contains("stress_tag")) {
    auto ended = StressNg::recover(undo);
    if (!ended) return ended.error();
    said = *ended + "; ";
  }
  const std::string dir = undo.value("work_dir", "");
  if (!is_work_dir(dir))
    return fail(fmt::format("the record names '{}' as its work folder, not a {}* folder: refused", dir, kWorkPrefix));
  std::error_code ec;
  const auto removed = fs::remove_all(dir, ec);
  if (ec) return fail(fmt::format("cannot remove {}: {}", dir, ec.message()));
  return said + (removed ? fmt::format("removed {}", dir) : fmt::format("{} was already gone", dir));
}

nlohmann::json IoStress::describe() const {
  return {{"path", path_}, {"workers", workers_}, {"size_per_worker", format_bytes(size_)}};
}

}  // namespace rebound
