#include "injectors/network/cgroup_scope.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "system/fault_record.hpp"
#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/cgroup_ledger.hpp"
#include "injectors/network/cgroup_placement.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Under the cgroup v2 mount, absolute, and written without "." or ".." (so it cannot climb out of it).
bool plain_cgroup_path(const std::string& path) {
  std::string root = cgroup2_mount();
  if (root.empty() || path.empty() || path.front() != '/') return false;
  if (path != root && !path.starts_with(root + "/")) return false;
  for (const auto& part : fs::path(path))
    if (part == "." || part == "..") return false;
  return fs::path(path).lexically_normal().string() == path;
}

Result<void> move_to_cgroup(pid_t pid, const std::string& cgroup) {
  std::string procs = cgroup + "/cgroup.procs";
  Fd fd(open(procs.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  std::string text = std::to_string(pid);
  bool ok = fd && write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int error = errno;
  fd.reset();
  if (!ok && error != ESRCH)  // a process that exited meanwhile needs no move
    return fail(fmt::format("cannot move pid {} into cgroup {}: {}", pid, cgroup, std::strerror(error)));
  return {};
}

std::vector<pid_t> members(const std::string& cgroup) {
  std::ifstream in(cgroup + "/cgroup.procs");
  std::vector<pid_t> out;
  for (pid_t pid; in >> pid;) out.push_back(pid);
  return out;
}

// Removes `cgroup` and, first, any rebound cgroup below it that nobody holds (left by a rebound that died).
// A cgroup that still contains a held one stays: that cgroup's holder removes it on its way out.
Result<bool> remove_tree(const std::string& cgroup, const CgroupLedger* ledger) {
  std::error_code ec;
  bool busy = false;
  for (const auto& entry : fs::directory_iterator(cgroup, ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    std::string child = entry.path().string();
    if (!is_rebound_cgroup(child) || (ledger && ledger->held(child)) || !members(child).empty()) {
      busy = true;
      continue;
    }
    auto removed = remove_tree(child, ledger);
    if (!removed) return removed.error();
    busy = busy || !*removed;
  }
  if (rmdir(cgroup.c_str()) == 0 || errno == ENOENT) return true;
  if (busy && (errno == EBUSY || errno == ENOTEMPTY)) return false;
  return fail_errno(fmt::format("cannot remove cgroup {}", cgroup));
}

struct Released {
  std::set<std::string> moved_to;
  std::vector<std::string> removed, left;
};

// Lets go of this step's holds, moves every process where it belongs now, and removes the step's cgroups.
// Without a ledger (it could not be read) each process goes back to the original in the step's record.
Result<Released> release(const std::string& state_dir, const std::vector<std::string>& created,
                         const nlohmann::json& moved) {
  std::optional<CgroupLedger> ledger;
  if (auto opened = CgroupLedger::open(state_dir)) ledger.emplace(std::move(*opened));
  else spdlog::warn("{}: moving processes back to the originals in the step's record", opened.error().message);
  if (ledger) {
    for (const auto& m : moved)
      if (auto* p = ledger->find(m.value("pid", 0), m.value("start_time", uint64_t{0})))
        std::erase_if(p->holds, [&](const CgroupHold& h) { return h.cgroup == m.value("cgroup", ""); });
    ledger->prune();
  }
  auto destination = [&](pid_t pid, const std::string& fallback) {
    auto info = read_process(pid);
    HeldProcess* p = ledger && info ? ledger->find(pid, info->start_time) : nullptr;
    return p ? p->destination() : fallback;
  };
  Released out;
  std::vector<std::string> errors;
  auto move = [&](pid_t pid, const std::string& to, bool report) {
    auto r = move_to_cgroup(pid, to);
    if (r) out.moved_to.insert(to);
    else if (report) errors.push_back(r.error().message);
  };
  for (const auto& cgroup : created) {
    std::string fallback;  // for children forked during the fault: where the step's first process here goes
    for (const auto& m : moved)
      if (m.value("cgroup", "") == cgroup && fallback.empty())
        fallback = destination(m.value("pid", 0), m.value("original", ""));
    for (int round = 0; round < 5; ++round) {
      auto left = members(cgroup);
      if (left.empty()) break;
      for (pid_t pid : left) move(pid, destination(pid, fallback), round == 4);
    }
  }
  // A process of this step sitting in a rebound cgroup nobody holds any more (one of a rebound that died).
  for (const auto& m : moved) {
    pid_t pid = m.value("pid", 0);
    if (!process_is(pid, m.value("start_time", uint64_t{0}))) continue;
    auto current = process_cgroup(pid);
    std::string to = destination(pid, m.value("original", ""));
    if (current && *current != to && is_rebound_cgroup(*current) && !(ledger && ledger->held(*current)))
      move(pid, to, true);
  }
  const CgroupLedger* held = ledger ? &*ledger : nullptr;
  for (const auto& cgroup : created) {
    auto removed = remove_tree(cgroup, held);
    if (!removed) errors.push_back(removed.error().message);
    else (*removed ? out.removed : out.left).push_back(cgroup);
    // Rebound cgroups above it that were only kept for this one.
    for (auto up = fs::path(cgroup).parent_path(); is_rebound_cgroup(up.string()); up = up.parent_path()) {
      if ((held && held->held(up.string())) || !members(up.string()).empty() || rmdir(up.c_str()) != 0) break;
      out.removed.push_back(up.string());
    }
  }
  if (ledger)
    if (auto saved = ledger->save(); !saved) errors.push_back(saved.error().message);
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return out;
}

}  // namespace

bool is_rebound_cgroup(const std::string& path) {
  if (!plain_cgroup_path(path)) return false;
  std::string name = fs::path(path).filename().string();
  if (!name.starts_with("rebound-")) return false;
  auto dash = name.find('-', 8);
  return dash != std::string::npos && all_digits(std::string_view(name).substr(8, dash - 8)) &&
         all_digits(std::string_view(name).substr(dash + 1));
}

Result<std::unique_ptr<CgroupScope>> CgroupScope::enter(
    const std::vector<ProcessInfo>& processes, const std::string& state_dir,
    const std::function<Result<void>(const nlohmann::json&)>& record) {
  if (cgroup2_mount().empty()) return fail("cgroup v2 is not mounted");
  std::unique_ptr<CgroupScope> scope(new CgroupScope);
  scope->state_dir_ = state_dir;
  scope->moved_ = nlohmann::json::array();
  if (auto added = scope->add(processes, record, false); !added) {
    if (auto left = scope->leave(); !left) spdlog::error("{}", left.error().message);
    return added.error();
  }
  return scope;
}

Result<std::vector<std::string>> CgroupScope::extend(const std::vector<ProcessInfo>& processes,
                                                     const std::function<Result<void>(const nlohmann::json&)>& record) {
  if (left_) return fail("the step's cgroups are gone already");
  return add(processes, record, true);
}

bool CgroupScope::inside(const std::string& cgroup) const {
  return std::any_of(created_.begin(), created_.end(),
                     [&](const std::string& c) { return cgroup == c || cgroup.starts_with(c + "/"); });
}

// Plans a cgroup for each process (reusing the scope's cgroup for its parent, if there is one), records the whole
// undo, notes the holds in the ledger, makes the new cgroups and moves the processes. Returns the new cgroups.
Result<std::vector<std::string>> CgroupScope::add(const std::vector<ProcessInfo>& processes,
                                                  const std::function<Result<void>(const nlohmann::json&)>& record,
                                                  bool skip_gone) {
  std::vector<std::string> fresh;
  nlohmann::json added = nlohmann::json::array();
  Result<void> done;
  {
    auto ledger = CgroupLedger::open(state_dir_);
    if (!ledger) return ledger.error();
    ledger->prune();
    static std::atomic<int> sequence{0};
    for (const auto& p : processes) {
      auto current = process_cgroup(p.pid);
      if (!current && skip_gone && !process_is(p.pid, p.start_time)) continue;
      if (!current) return current.error();
      if (inside(*current)) continue;  // forked by a process in the fault: it is in it already
      auto placement = place_cgroup(p.pid, *current);
      if (!placement.warning.empty()) warnings_.push_back(placement.warning);
      auto& cgroup = by_parent_[placement.parent];
      if (cgroup.empty()) {
        while (cgroup.empty() || fs::exists(cgroup))
          cgroup = fmt::format("{}/rebound-{}-{}", placement.parent, getpid(), sequence++);
        created_.push_back(cgroup);
        fresh.push_back(cgroup);
      }
      // The true original: the ledger's, when another step already moved the process (its current cgroup
      // is then that step's); otherwise where it is now.
      const HeldProcess* held = ledger->find(p.pid, p.start_time);
      std::string original = held ? held->original : *current;
      added.push_back({{"pid", p.pid}, {"start_time", p.start_time}, {"original", original}, {"cgroup", cgroup}});
      moved_.push_back(added.back());
    }
    if (added.empty()) return fresh;
    nlohmann::json undo{{"scope", "cgroup"}, {"state_dir", state_dir_}, {"created_cgroups", created_}, {"moved", moved_}};
    if (auto r = record(undo); !r) return r.error();
    auto self = read_process(getpid());
    for (const auto& m : added) {
      pid_t pid = m["pid"];
      uint64_t start_time = m["start_time"];
      HeldProcess* held = ledger->find(pid, start_time);
      if (!held) held = &ledger->add({pid, start_time, m["original"].get<std::string>(), {}});
      held->holds.push_back({m["cgroup"].get<std::string>(), getpid(), self ? self->start_time : 0});
    }
    done = ledger->save();
    for (const auto& cgroup : fresh) {
      if (!done) break;
      if (mkdir(cgroup.c_str(), 0755) != 0) done = fail_errno(fmt::format("cannot create cgroup {}", cgroup));
    }
    for (const auto& m : added)
      if (done) done = move_to_cgroup(m["pid"].get<pid_t>(), m["cgroup"].get<std::string>());
  }  // unlocked here: leave() locks again
  if (!done) return done.error();
  return fresh;
}

Result<void> CgroupScope::leave() {
  if (left_) return {};
  left_ = true;
  auto released = release(state_dir_, created_, moved_);
  if (!released) return released.error();
  return {};
}

CgroupScope::~CgroupScope() {
  if (auto r = leave(); !r) spdlog::error("{}", r.error().message);
}

Result<std::string> CgroupScope::recover(const nlohmann::json& undo) {
  try {
    return recover_record(undo);
  } catch (const nlohmann::json::exception& e) {
    return fail(fmt::format("refused: the record is not one rebound wrote ({}); remove it by hand if it is not yours",
                            e.what()));
  }
}

Result<std::string> CgroupScope::recover_record(const nlohmann::json& undo) {
  std::vector<std::string> created;
  nlohmann::json moved = nlohmann::json::array();
  if (undo.contains("created_cgroups")) {
    created = undo.value("created_cgroups", std::vector<std::string>{});
    moved = undo.value("moved", nlohmann::json::array());
  } else if (undo.contains("created_cgroup")) {  // a record of an older rebound: one cgroup, one original
    created.push_back(undo.value("created_cgroup", ""));
    for (const auto& m : undo.value("moved", nlohmann::json::array()))
      moved.push_back({{"pid", m.value("pid", 0)},
                       {"start_time", m.value("start_time", uint64_t{0})},
                       {"original", undo.value("original_cgroup", "")},
                       {"cgroup", created.front()}});
  }
  // Trust only what rebound would have written: its own cgroups, and destinations inside the hierarchy.
  for (const auto& c : created)
    if (!is_rebound_cgroup(c))
      return fail(fmt::format("refused: the record names {} as rebound's cgroup, but rebound only creates cgroups "
                              "named rebound-PID-N under {}; remove the record by hand if it is not yours",
                              c, cgroup2_mount()));
  for (const auto& m : moved)
    if (!m.is_object() || !plain_cgroup_path(m.value("original", "")))
      return fail(fmt::format("refused: the record names '{}' as a process's original cgroup, which is not a cgroup "
                              "under {}; remove the record by hand if it is not yours",
                              m.is_object() ? m.value("original", "") : m.dump(), cgroup2_mount()));
  bool anything = std::any_of(created.begin(), created.end(), [](const auto& c) { return fs::exists(c); });
  if (!anything) return std::string("nothing left (the kernel dropped the programs with rebound)");
  auto released = release(undo.value("state_dir", FaultRecorder::default_dir()), created, moved);
  if (!released) return released.error();
  std::vector<std::string> parts;
  if (!released->moved_to.empty())
    parts.push_back(fmt::format("moved the processes back to {}", fmt::join(released->moved_to, ", ")));
  if (!released->removed.empty()) parts.push_back(fmt::format("removed {}", fmt::join(released->removed, ", ")));
  if (!released->left.empty())
    parts.push_back(
        fmt::format("left {} to the running rebound whose cgroup is inside it", fmt::join(released->left, ", ")));
  return fmt::format("{}", fmt::join(parts, " and "));
}

}  // namespace rebound
