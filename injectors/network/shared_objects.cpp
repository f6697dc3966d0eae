#include "injectors/network/shared_objects.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sys/file.h>
#include <unistd.h>

#include "system/targets.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

nlohmann::json owner_of_this_process() {
  auto self = read_process(getpid());
  return {{"pid", getpid()}, {"start_time", self ? self->start_time : 0}};
}

Result<void> write_json(const std::string& path, const nlohmann::json& j) {
  std::string tmp = path + ".tmp";
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return fail_errno(fmt::format("cannot write {}", tmp));
  std::string text = j.dump(2);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || fsync(fd.get()) != 0 ||
      rename(tmp.c_str(), path.c_str()) != 0)
    return fail_errno(fmt::format("cannot write {}", path));
  return {};
}

bool owner_alive(const std::string& path) {
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("owner")) return false;
  return process_is(j["owner"].value("pid", 0), j["owner"].value("start_time", uint64_t{0}));
}

}  // namespace

Result<SharedLock> SharedLock::take(const std::string& shared_dir) {
  std::error_code ec;
  fs::create_directories(shared_dir, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", shared_dir, ec.message()));
  SharedLock lock;
  lock.fd_ = Fd(open((shared_dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock.fd_) return fail_errno(fmt::format("cannot open {}/lock", shared_dir));
  while (flock(lock.fd_.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail_errno(fmt::format("cannot lock {}/lock", shared_dir));
  return lock;  // the lock goes with the descriptor
}

Result<std::string> SharedObject::add_user(const nlohmann::json& about) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", dir_, ec.message()));
  static std::atomic<int> sequence{0};
  std::string path = fmt::format("{}/user-{}-{}.json", dir_, getpid(), sequence++);
  nlohmann::json j = about;
  j["owner"] = owner_of_this_process();
  if (auto w = write_json(path, j); !w) return w.error();
  return path;
}

Result<void> SharedObject::remove_user(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("cannot remove {}", path));
  return {};
}

size_t SharedObject::live_users() const {
  size_t n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto name = entry.path().filename().string();
    if (name.starts_with("user-") && name.ends_with(".json") && owner_alive(entry.path().string())) ++n;
  }
  return n;
}

void SharedObject::drop_dead_users() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    auto name = entry.path().filename().string();
    if (name.starts_with("user-") && name.ends_with(".json") && !owner_alive(entry.path().string()))
      fs::remove(entry.path(), ec);
  }
}

bool SharedObject::created() const { return fs::exists(dir_ + "/created.json"); }

Result<void> SharedObject::mark_created(const nlohmann::json& about) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return fail(fmt::format("cannot create {}: {}", dir_, ec.message()));
  nlohmann::json j = about;
  j["owner"] = owner_of_this_process();
  return write_json(dir_ + "/created.json", j);
}

Result<void> SharedObject::clear_created() {
  if (unlink((dir_ + "/created.json").c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("cannot remove {}/created.json", dir_));
  std::error_code ec;
  fs::remove(dir_, ec);  // only if no user record is left
  return {};
}

}  // namespace rebound
