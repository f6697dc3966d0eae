#include "system/state_dir.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace rebound {

namespace {

constexpr off_t kMaxStateFile = 1 << 20;

// Why a file or directory with this status is not to be trusted, or "" when it is.
std::string distrust(const struct stat& st) {
  if (st.st_uid != geteuid())
    return fmt::format("it belongs to uid {}, not to rebound's user (uid {})", st.st_uid, geteuid());
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return fmt::format("it is writable by {} (mode {:04o})", (st.st_mode & S_IWOTH) ? "others" : "its group",
                       st.st_mode & 07777);
  return "";
}

}  // namespace

Result<void> check_state_dir(const std::string& dir) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(fmt::format("cannot inspect the state directory {}", dir));
  }
  if (S_ISLNK(st.st_mode))
    return fail(fmt::format("the state directory {} is a symbolic link: refused (rebound follows no link there; give "
                            "the real path with --state-dir)",
                            dir));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("the state directory {} is not a directory", dir));
  if (auto why = distrust(st); !why.empty())
    return fail(fmt::format("the state directory {} is not trusted: {}. Its records name processes to signal and "
                            "kernel objects to remove, so rebound only acts on a directory that its own user owns "
                            "and nobody else can write (fix: chown it to uid {} and chmod 700 it, or use another "
                            "--state-dir)",
                            dir, why, geteuid()));
  return {};
}

Result<void> prepare_state_dir(const std::string& dir) {
  struct stat st {};
  if (lstat(dir.c_str(), &st) != 0) {
    std::error_code ec;
    auto parent = fs::path(dir).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) return fail(fmt::format("cannot create the state directory {}: {}", dir, ec.message()));
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return fail_errno(fmt::format("cannot create the state directory {}", dir));
  }
  return check_state_dir(dir);
}

Result<void> prepare_state_subdir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail_errno(fmt::format("cannot create {}", dir));
  return check_state_dir(dir);
}

Result<std::string> read_trusted_file(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP)
      return fail(fmt::format("{} is a symbolic link: refused (rebound never follows links in its state directory)",
                              path));
    return fail_errno(fmt::format("cannot open {}", path));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return fail_errno(fmt::format("cannot inspect {}", path));
  if (!S_ISREG(st.st_mode)) return fail(fmt::format("{} is not a regular file: refused", path));
  if (auto why = distrust(st); !why.empty())
    return fail(fmt::format("{} is not trusted: {}; rebound did not write it, so it is left alone (inspect it and "
                            "remove it by hand)",
                            path, why));
  if (st.st_size > kMaxStateFile)
    return fail(fmt::format("{} is larger than 1 MiB ({} bytes): not a rebound record", path, st.st_size));
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

Result<void> write_state_file(const std::string& path, const std::string& text) {
  static std::atomic<int> sequence{0};
  std::string tmp = fmt::format("{}.{}-{}.tmp", path, getpid(), sequence++);
  int raw = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (raw < 0) return fail_errno(fmt::format("cannot write {}", tmp));
  bool ok = false;
  {
    Fd fd(raw);
    ok = write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd.get()) == 0;
  }
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    auto error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    unlink(tmp.c_str());
    return fail(error);
  }
  Fd dir(open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) fsync(dir.get());
  return {};
}

std::string HaltState::describe() const {
  return fmt::format("halted since {} by pid {} (uid {}): {}", since.empty() ? "?" : since, by_pid, by_uid, reason);
}

std::string halt_file(const std::string& dir) { return dir + "/halt.json"; }

bool halt_present(const std::string& dir) {
  struct stat st {};
  return lstat(halt_file(dir).c_str(), &st) == 0;
}

std::optional<HaltState> read_halt(const std::string& dir) {
  if (!halt_present(dir)) return std::nullopt;
  HaltState halt;
  auto text = read_trusted_file(halt_file(dir));
  auto j = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  if (!j.is_object()) {
    halt.reason = text ? fmt::format("{} is not a halt rebound wrote (remove it with `rebound resume`)", halt_file(dir))
                       : text.error().message;
    return halt;
  }
  halt.reason = j.value("reason", "");
  halt.since = j.value("since", "");
  halt.by_pid = j.value("by_pid", 0);
  halt.by_uid = j.value("by_uid", 0u);
  return halt;
}

Result<HaltState> write_halt(const std::string& dir, const std::string& reason) {
  if (auto ok = prepare_state_dir(dir); !ok) return ok.error();
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char since[32];
  std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
  HaltState halt{reason, since, getpid(), geteuid()};
  nlohmann::json j{{"reason", halt.reason}, {"since", halt.since}, {"by_pid", halt.by_pid}, {"by_uid", halt.by_uid}};
  if (auto w = write_state_file(halt_file(dir), j.dump(2)); !w) return w.error();
  return halt;
}

Result<bool> clear_halt(const std::string& dir) {
  if (unlink(halt_file(dir).c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return fail_errno(fmt::format("cannot remove {}", halt_file(dir)));
}

Result<StateLock> StateLock::acquire(const std::string& dir) {
  std::string path = dir + "/state.lock";
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return fail_errno(fmt::format("cannot open the lock {}", path));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !distrust(st).empty())
    return fail(fmt::format("the lock {} is not a regular file of rebound's user, mode 0600: refused", path));
  while (flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail_errno(fmt::format("cannot lock {}", path));
  return StateLock(std::move(fd));
}

}  // namespace rebound
