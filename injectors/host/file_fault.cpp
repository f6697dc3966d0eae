#include "injectors/host/file_fault.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "injectors/host/namespace_mount.hpp"
#include "system/child_process.hpp"

namespace rebound {

namespace fs = std::filesystem;

namespace {

// Descriptors the process holds on files under `path` (they keep going to the real file system).
size_t open_under(pid_t pid, const std::string& path) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec)) {
    std::error_code link_ec;
    const std::string target = fs::read_symlink(e.path(), link_ec).string();
    n += !link_ec && (target == path || target.starts_with(path + "/"));
  }
  return n;
}

// True when the process's working folder is `path` or below it: its relative opens reach the real folder
// (databases chdir into their data folder: redis --dir, postgres PGDATA).
bool works_under(pid_t pid, const std::string& path) {
  std::error_code ec;
  const std::string cwd = fs::read_symlink(fmt::format("/proc/{}/cwd", pid), ec).string();
  return !ec && (cwd == path || cwd.starts_with(path + "/"));
}

// How long the revert waits for files opened through the mount to be closed before it reports them.
constexpr std::chrono::milliseconds kUnmountGrace{2000};

}  // namespace

Result<void> FileFault::available() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    return fail(fmt::format("FUSE is not available here: /dev/fuse: {} (load the fuse module, or give a container "
                            "--device /dev/fuse)",
                            std::strerror(errno)));
  if (!find_program("fusermount3"))
    return fail("FUSE is not available here: fusermount3 was not found in PATH (install the fuse3 package)");
  if (::geteuid() != 0)
    return fail("file faults need root: the mount must serve the target's processes (allow_other) and mount in its "
                "namespace");
  return {};
}

Result<void> FileFault::preflight() {
  if (auto ok = available(); !ok) return fail(fmt::format("{}: {}", type_, ok.error().message));
  if (path_ == "/") return fail(fmt::format("{}: path cannot be / (the whole host would go through rebound)", type_));
  // A path missing here may be a container's, checked where the target sees it when the step starts (and by
  // --dry-run); one that is here is checked now.
  if (::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) return {};
  return check_path(Namespace{});
}

Result<FileFault::Namespace> FileFault::namespace_of(const std::vector<ProcessInfo>& processes) const {
  Namespace ns;
  const std::string ours = mount_namespace_of(::getpid());
  for (const auto& p : processes) {
    const std::string theirs = mount_namespace_of(p.pid);
    if (theirs.empty()) continue;  // gone since it was resolved
    if (ns.id.empty()) {
      ns = {theirs, p.pid, theirs != ours};
    } else if (theirs != ns.id) {
      return fail(fmt::format("{}: the target's processes are in different mount namespaces (pid {} in {}, pid {} in "
                              "{}); one file fault mounts in one of them: narrow the target to one container",
                              type_, ns.pid, ns.id, p.pid, theirs));
    }
  }
  if (ns.id.empty()) ns = {ours, ::getpid(), false};
  return ns;
}

Result<void> FileFault::check_path(const Namespace& ns) const {
  const std::string seen = ns.foreign ? fmt::format("/proc/{}/root{}", ns.pid, path_) : path_;
  const std::string where = ns.foreign ? fmt::format(" in the mount namespace of pid {}", ns.pid) : "";
  struct stat st {};
  if (::stat(seen.c_str(), &st) != 0)
    return fail(fmt::format("{}: path {}{}: {} (it must exist before the run)", type_, path_, where,
                            std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("{}: path {}{} is not a folder", type_, path_, where));
  if (ns.foreign ? is_rebound_fuse_mount_in(ns.pid, path_) : is_rebound_fuse_mount(path_))
    return fail(fmt::format("{}: {}{} already has a rebound FUSE mount (another file fault is on it)", type_, path_,
                            where));
  return {};
}

Result<std::string> FileFault::plan(const std::vector<ProcessInfo>& processes) const {
  auto ns = namespace_of(processes);
  if (!ns) return ns.error();
  if (auto ok = check_path(*ns); !ok) return ok.error();
  if (!ns->foreign) return std::string();
  return fmt::format("mount over {} in the mount namespace of pid {} ({}), where the target sees it", path_, ns->pid,
                     ns->id);
}

Result<void> FileFault::apply(StepContext& context) {
  if (auto ok = available(); !ok) return fail(fmt::format("{}: {}", type_, ok.error().message));
  auto ns = namespace_of(context.processes);
  if (!ns) return ns.error();
  if (auto ok = check_path(*ns); !ok) return ok;
  std::vector<pid_t> pids;
  for (const auto& p : context.processes) {
    pids.push_back(p.pid);
    open_before_ += open_under(p.pid, path_);
    if (works_under(p.pid, path_)) cwd_under_.push_back(p.pid);
  }
  // The record comes first: a mount that outlives rebound and its watcher is unmounted by the guardian or recover.
  nlohmann::json undo = {{"mount", path_}};
  if (ns->foreign) {
    undo["mount_namespace"] = ns->id;
    undo["namespace_pid"] = ns->pid;
  }
  if (auto r = context.record(undo); !r) return r;
  auto mounted = FuseFs::mount(path_, plan_, pids, ns->foreign ? ns->pid : 0);
  if (!mounted) return mounted.error();
  fs_ = std::move(*mounted);
  context.detail["mount"] = path_;
  if (ns->foreign) context.detail["mount_namespace"] = {{"id", ns->id}, {"pid", ns->pid}};
  context.detail["target_pids"] = pids;
  context.detail["open_before"] = open_before_;
  context.detail["open_before_note"] =
      fmt::format("{} file(s) the target had open under {} before the step keep going to the real file system, "
                  "without faults",
                  open_before_, path_);
  if (!cwd_under_.empty())
    context.detail["working_folder_under_path"] = {
        {"pids", cwd_under_},
        {"note", "their working folder is under path, so their relative file names reach the real file system, "
                 "without faults; give path a folder they name by its absolute path"}};
  return {};
}

void FileFault::switch_off(StepContext&) {
  if (fs_) fs_->switch_off();
}

void FileFault::note_counts(StepContext& context) const {
  nlohmann::json ops = nlohmann::json::object();
  uint64_t seen = 0, hit = 0;
  std::vector<std::string> parts;
  for (size_t i = 0; i < kFileOpCount; ++i) {
    const auto& c = fs_->counts()[i];
    if (!plan_.ops[i] && c.seen == 0) continue;
    const uint64_t affected = plan_.error ? c.failed.load() : c.delayed.load();
    ops[to_string(static_cast<FileOp>(i))] = {{"seen", c.seen.load()}, {"failed", c.failed.load()},
                                              {"delayed", c.delayed.load()}};
    if (!plan_.ops[i]) continue;
    seen += c.seen;
    hit += affected;
    parts.push_back(fmt::format("{} {} of {}", to_string(static_cast<FileOp>(i)), affected, c.seen.load()));
  }
  context.detail["operations"] = ops;
  context.detail["other_processes_requests"] = fs_->others();
  if (auto first = fs_->first_fault()) context.detail["first_fault_after_ms"] = first->count() / 1000.0;
  const std::string how = plan_.error ? fmt::format("failed with {}", errno_name(plan_.error))
                                      : fmt::format("delayed by {}", format_duration(Millis(plan_.delay.count() / 1000.0)));
  std::string summary = fmt::format("{} {} of {} file operations of the target under {} ({})", how, hit, seen, path_,
                                    fmt::join(parts, ", "));
  if (open_before_) summary += fmt::format("; {} file(s) it had open before kept the real file system", open_before_);
  if (!cwd_under_.empty())
    summary += fmt::format("; pid {} works in a folder under {}, so its relative file names bypass the mount",
                           fmt::join(cwd_under_, ", "), path_);
  context.effect = StepEffect{hit > 0, summary};
}

Result<void> FileFault::revert(StepContext& context) {
  if (!fs_) return {};
  auto left = fs_->unmount(kUnmountGrace);
  note_counts(context);
  if (!left) return left.error();
  if (*left)
    context.detail["still_open_at_revert"] =
        fmt::format("{} file(s) opened through the mount during the fault were still open {} after it: they are "
                    "served without faults until closed or until rebound exits",
                    *left, format_duration(Millis(kUnmountGrace.count())));
  if (*left == 0) fs_.reset();
  return {};
}

namespace {

// A record's mount in another mount namespace: unmounted from inside it, when the namespace is still there.
Result<std::string> recover_in_namespace(const std::string& path, const nlohmann::json& undo) {
  const std::string ns = undo.value("mount_namespace", "");
  pid_t pid = undo.value("namespace_pid", 0);
  if (pid <= 0 || mount_namespace_of(pid) != ns) pid = process_in_mount_namespace(ns);
  if (pid == 0) return fmt::format("no rebound FUSE mount left on {}: its mount namespace {} is gone", path, ns);
  if (!is_rebound_fuse_mount_in(pid, path))
    return fmt::format("no rebound FUSE mount left on {} in the mount namespace of pid {}", path, pid);
  if (auto ok = unmount_in_namespace(pid, path); !ok) return ok.error();
  return fmt::format("unmounted the rebound FUSE mount on {} in the mount namespace of pid {}", path, pid);
}

}  // namespace

Result<std::string> FileFault::recover(const nlohmann::json& undo) {
  const std::string path = undo.value("mount", "");
  if (path.empty() || !path.starts_with('/'))
    return fail(fmt::format("the record names '{}' as its mount, not an absolute path: refused", path));
  if (undo.contains("mount_namespace")) return recover_in_namespace(path, undo);
  if (!is_rebound_fuse_mount(path)) return fmt::format("no rebound FUSE mount left on {}", path);
  if (::umount2(path.c_str(), MNT_DETACH) != 0) {
    if (!is_rebound_fuse_mount(path)) return fmt::format("no rebound FUSE mount left on {}", path);
    return fail(fmt::format("cannot unmount the FUSE mount on {}: {} (try fusermount3 -u -z {})", path,
                            std::strerror(errno), path));
  }
  return fmt::format("unmounted the rebound FUSE mount on {}", path);
}

nlohmann::json FileFault::describe() const {
  std::vector<std::string> ops;
  for (size_t i = 0; i < kFileOpCount; ++i)
    if (plan_.ops[i]) ops.push_back(to_string(static_cast<FileOp>(i)));
  nlohmann::json d = {{"path", path_}, {"operations", ops}, {"probability", plan_.probability}};
  if (!plan_.files.empty()) d["files"] = plan_.files;
  if (plan_.error) d["errno"] = errno_name(plan_.error);
  if (plan_.delay.count()) d["delay"] = format_duration(Millis(plan_.delay.count() / 1000.0));
  if (plan_.jitter.count()) d["jitter"] = format_duration(Millis(plan_.jitter.count() / 1000.0));
  return d;
}

}  // namespace rebound
