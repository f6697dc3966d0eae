#include "injectors/network/cgroup_ledger.hpp"

#include <algorithm>
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

Result<void> write_file_durably(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  bool ok = false;
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return fail_errno(fmt::format("cannot write {}", tmp));
    ok = write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd.get()) == 0;
  }
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0)
    return fail_errno(fmt::format("cannot write {}", path));
  return {};
}

HeldProcess from_json(const nlohmann::json& j) {
  HeldProcess p;
  p.pid = j.value("pid", 0);
  p.start_time = j.value("start_time", uint64_t{0});
  p.original = j.value("original", "");
  for (const auto& h : j.value("holds", nlohmann::json::array()))
    p.holds.push_back({h.value("cgroup", ""), h.value("owner_pid", 0), h.value("owner_start_time", uint64_t{0})});
  return p;
}

nlohmann::json to_json(const HeldProcess& p) {
  nlohmann::json holds = nlohmann::json::array();
  for (const auto& h : p.holds)
    holds.push_back({{"cgroup", h.cgroup}, {"owner_pid", h.owner_pid}, {"owner_start_time", h.owner_start_time}});
  return {{"pid", p.pid}, {"start_time", p.start_time}, {"original", p.original}, {"holds", holds}};
}

}  // namespace

Result<CgroupLedger> CgroupLedger::open(const std::string& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return fail(fmt::format("cannot create state directory {}: {}", state_dir, ec.message()));
  CgroupLedger ledger;
  std::string lock = state_dir + "/cgroups.lock";
  ledger.lock_fd_.reset(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!ledger.lock_fd_) return fail_errno(fmt::format("cannot open the lock file {}", lock));
  while (flock(ledger.lock_fd_.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail_errno(fmt::format("cannot lock {}", lock));
  ledger.path_ = state_dir + "/cgroups.ledger";
  // Opened once without following a link, then read through /proc/self/fd: the file checked is the file read.
  if (Fd fd(::open(ledger.path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)); fd) {
    std::ifstream in(fmt::format("/proc/self/fd/{}", fd.get()));
    auto j = nlohmann::json::parse(in, nullptr, false);
    // An unreadable ledger is treated as empty: each step's fault record still holds its own originals.
    if (j.is_object())
      for (const auto& p : j.value("processes", nlohmann::json::array()))
        if (p.is_object()) ledger.processes_.push_back(from_json(p));
  }
  return ledger;
}


HeldProcess* CgroupLedger::find(pid_t pid, uint64_t start_time) {
  for (auto& p : processes_)
    if (p.pid == pid && p.start_time == start_time) return &p;
  return nullptr;
}

HeldProcess& CgroupLedger::add(HeldProcess process) { return processes_.emplace_back(std::move(process)); }

void CgroupLedger::prune() {
  for (auto& p : processes_)
    std::erase_if(p.holds, [](const CgroupHold& h) { return !process_is(h.owner_pid, h.owner_start_time); });
  std::erase_if(processes_, [](const HeldProcess& p) { return !process_is(p.pid, p.start_time); });
}

bool CgroupLedger::held(const std::string& cgroup) const {
  for (const auto& p : processes_)
    for (const auto& h : p.holds)
      if (h.cgroup == cgroup) return true;
  return false;
}

Result<void> CgroupLedger::save() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : processes_)
    if (!p.holds.empty()) list.push_back(to_json(p));
  return write_file_durably(path_, nlohmann::json{{"processes", list}}.dump(2));
}

}  // namespace rebound
