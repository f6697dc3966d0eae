#include "injectors/host/disk_fill.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config/byte_size.hpp"
#include "injectors/host/work_name.hpp"
#include "system/fd.hpp"

namespace rebound {

namespace {

constexpr const char* kFilePrefix = ".rebound-fill-";

Result<Space> space_of(const std::string& path) {
  struct statvfs fs {};
  if (statvfs(path.c_str(), &fs) != 0) return fail(fmt::format("cannot read the file system of {}: {}", path, std::strerror(errno)));
  Space s;
  s.available = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  s.usable = static_cast<uint64_t>(fs.f_blocks - fs.f_bfree + fs.f_bavail) * fs.f_frsize;
  return s;
}

// Writes zeros until `bytes` are written or the file system is full (for file systems without fallocate).
Result<uint64_t> write_zeros(int fd, uint64_t bytes, const std::function<bool()>& aborted) {
  static const std::vector<char> zeros(1 << 20, 0);
  uint64_t written = 0;
  while (written < bytes && !aborted()) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes - written));
    ssize_t n = ::write(fd, zeros.data(), chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOSPC) break;
    if (n < 0) return fail(fmt::format("cannot write: {}", std::strerror(errno)));
    written += static_cast<uint64_t>(n);
  }
  if (::fsync(fd) != 0 && errno != ENOSPC) return fail(fmt::format("cannot fsync: {}", std::strerror(errno)));
  return written;
}

bool is_fill_file(const std::string& path) {
  return std::filesystem::path(path).filename().string().starts_with(kFilePrefix);
}

}  // namespace

std::vector<ParamDoc> DiskFill::params() {
  return {{"path", "string", "", "a folder on the file system to fill (it must exist before the run); the fill file "
                                 "goes there"},
          {"free", "string", "(free or used)", "fill until this much is left, e.g. \"100MiB\" (give free or used)"},
          {"used", "string", "(free or used)", "fill until the file system is this full, e.g. \"98%\" (as df counts it)"},
          {"allow_root_fs", "boolean", "false", "allow filling the root file system"}};
}

std::unique_ptr<StepAction> DiskFill::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<DiskFill>();
  auto path = reader.string("path", true);
  auto free = read_size(reader, "free");
  auto used = read_size(reader, "used", "the file system's size");
  step->allow_root_fs_ = reader.boolean("allow_root_fs").value_or(false);
  if (!path) return nullptr;
  if (!path->starts_with('/')) {
    reader.error("path", fmt::format("'{}' is relative: write the absolute path of a folder", *path));
    return nullptr;
  }
  const bool has_free = reader.has("free"), has_used = reader.has("used");
  if (has_free && has_used) {
    reader.error("used", "give either free or used, not both");
    return nullptr;
  }
  if (!has_free && !has_used) {
    reader.error("free", "say how full to make it: free = \"100MiB\" (what is left) or used = \"98%\"");
    return nullptr;
  }
  if ((has_free && !free) || (has_used && !used)) return nullptr;  // the error is recorded
  if (used && used->bytes) {
    reader.error("used", "write used as a share such as \"98%\"; for a size, write free = \"100MiB\"");
    return nullptr;
  }
  step->path_ = *path;
  if (free) step->free_ = free->bytes;
  if (used) step->used_percent_ = used->percent;
  return step;
}

uint64_t DiskFill::target_free(const Space& space) const {
  return free_ ? *free_ : static_cast<uint64_t>(static_cast<double>(space.usable) * (100 - *used_percent_) / 100);
}

void DiskFill::hold_full() {
  // Below this much extra free space nothing is taken: block rounding must not make it allocate forever.
  constexpr uint64_t kSlack = 64 * 1024;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto space = space_of(path_);
    if (!space || space->available <= free_target_ + kSlack) continue;
    const uint64_t more = space->available - free_target_;
    if (::fallocate(fd_.get(), 0, static_cast<off_t>(size_), static_cast<off_t>(more)) == 0) {
      size_ += more;
      topped_up_ += more;
    }
  }
}

void DiskFill::stop_holding() {
  stop_ = true;
  if (holder_.joinable()) holder_.join();
}

Result<void> DiskFill::preflight() {
  struct stat st {}, root {};
  if (::stat(path_.c_str(), &st) != 0)
    return fail(fmt::format("disk.fill: path {}: {} (it must exist before the run)", path_, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("disk.fill: path {} is not a folder", path_));
  if (::stat("/", &root) == 0 && root.st_dev == st.st_dev && !allow_root_fs_)
    return fail(fmt::format("disk.fill: {} is on the root file system, which would fill for every program on this "
                            "host: point path at another file system, or set allow_root_fs = true",
                            path_));
  struct statvfs fs {};
  if (statvfs(path_.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY))
    return fail(fmt::format("disk.fill: {} is on a read-only file system", path_));
  if (auto space = space_of(path_); !space) return space.error();
  return {};
}

Result<void> DiskFill::apply(StepContext& context) {
  auto before = space_of(path_);
  if (!before) return before.error();
  free_before_ = before->available;
  free_target_ = target_free(*before);
  const uint64_t bytes = free_before_ > free_target_ ? free_before_ - free_target_ : 0;
  context.detail["free_before"] = free_before_;
  if (bytes == 0) {
    context.effect = StepEffect{false, fmt::format("nothing to fill: {} free on {} already", format_bytes(free_before_), path_)};
    return {};
  }
  file_ = path_ + "/" + work_name(kFilePrefix, context.step);
  // The record comes first: a rebound that dies while writing still has its file removed.
  if (auto r = context.record({{"file", file_}}); !r) return r;
  Fd fd(::open(file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return fail(fmt::format("cannot create {}: {}", file_, std::strerror(errno)));
  std::string method = "fallocate";
  uint64_t filled = bytes;
  if (::fallocate(fd.get(), 0, 0, static_cast<off_t>(bytes)) != 0) {
    method = fmt::format("writes (fallocate: {})", std::strerror(errno));
    (void)::ftruncate(fd.get(), 0);
    auto written = write_zeros(fd.get(), bytes, context.aborted);
    if (!written) return written.error();
    filled = *written;
  }
  if (method == "fallocate") {
    fd_ = std::move(fd);
    size_ = filled;
    holder_ = std::thread([this] { hold_full(); });
  }
  auto during = space_of(path_);
  context.detail["file"] = file_;
  context.detail["filled_bytes"] = filled;
  context.detail["method"] = method;
  if (during) context.detail["free_during"] = during->available;
  uint64_t free_during = during ? during->available : 0;
  context.effect = StepEffect{free_during < free_before_,
                              fmt::format("filled {} from {} to {} free ({} with {})", path_, format_bytes(free_before_),
                                          format_bytes(free_during), format_bytes(filled), method)};
  return {};
}

Result<void> DiskFill::revert(StepContext& context) {
  stop_holding();
  fd_.reset();
  if (file_.empty()) return {};
  context.detail["topped_up_bytes"] = topped_up_.load();
  if (::unlink(file_.c_str()) != 0 && errno != ENOENT)
    return fail(fmt::format("cannot remove {}: {}", file_, std::strerror(errno)));
  file_.clear();
  if (auto after = space_of(path_)) context.detail["free_after"] = after->available;
  return {};
}

Result<std::string> DiskFill::recover(const nlohmann::json& undo) {
  const std::string file = undo.value("file", "");
  if (file.empty() || !file.starts_with('/') || !is_fill_file(file))
    return fail(fmt::format("the record names '{}' as its fill file, not a {}* file: refused", file, kFilePrefix));
  if (::unlink(file.c_str()) != 0) {
    if (errno == ENOENT) return fmt::format("{} was already gone", file);
    return fail(fmt::format("cannot remove {}: {}", file, std::strerror(errno)));
  }
  return fmt::format("removed {}", file);
}

nlohmann::json DiskFill::describe() const {
  nlohmann::json d = {{"path", path_}};
  if (free_) d["free"] = format_bytes(*free_);
  if (used_percent_) d["used"] = fmt::format("{}%", *used_percent_);
  if (allow_root_fs_) d["allow_root_fs"] = true;
  return d;
}

}  // namespace rebound
