#include "injectors/host/stress_ng.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <linux/capability.h>
#include <fstream>
#include <map>
#include <random>
#include <sched.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include "system/fd.hpp"
#include "system/targets.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

constexpr const char* kTagVariable = "REBOUND_STRESS_TAG";

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Where each cgroup hierarchy is mounted: "" for v2, else each v1 controller's name ("cpu", "memory").
std::map<std::string, std::string> cgroup_mounts() {
  std::map<std::string, std::string> mounts;
  std::ifstream in("/proc/self/mounts");
  for (std::string device, dir, type, options, rest; in >> device >> dir >> type >> options && std::getline(in, rest);) {
    if (type == "cgroup2") mounts[""] = dir;
    if (type != "cgroup") continue;
    std::istringstream each(options);
    for (std::string option; std::getline(each, option, ',');) mounts[option] = dir;
  }
  return mounts;
}

// The folder of `controller` for a process: in v2 when the controller is on there (its `v2_file` exists), else in
// the controller's v1 hierarchy.
std::string controller_folder(const std::string& proc_cgroup, const std::map<std::string, std::string>& mounts,
                              const std::string& controller, const std::string& v2_file) {
  std::istringstream lines(proc_cgroup);
  for (std::string line; std::getline(lines, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (controllers.empty()) {
      auto v2 = mounts.find("");
      if (v2 != mounts.end() && fs::exists(v2->second + path + "/" + v2_file)) return v2->second + path;
      continue;
    }
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');)
      // The root cgroup limits nothing: the stressors are then pinned to the target's CPUs instead.
      if (name == controller && mounts.count(controller) && path != "/") return mounts.at(controller) + path;
  }
  return "";
}

// Lowering an OOM score needs CAP_SYS_RESOURCE, which some containers drop.
bool has_sys_resource() {
  std::istringstream status(read_all("/proc/self/status"));
  for (std::string line; std::getline(status, line);)
    if (line.rfind("CapEff:", 0) == 0) return (std::strtoull(line.c_str() + 7, nullptr, 16) >> CAP_SYS_RESOURCE) & 1;
  return false;
}

std::string new_tag() {
  std::random_device random;
  return fmt::format("{:08x}{:08x}", random(), random());
}

// Every pid whose environment still carries the tag (stress-ng itself).
std::vector<pid_t> tagged_pids(const std::string& tag) {
  const std::string needle = std::string(kTagVariable) + "=" + tag;
  std::vector<pid_t> pids;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string env = read_all(it->path().string() + "/environ");
    for (size_t at = 0; at < env.size();) {
      size_t end_at = env.find('\0', at);
      if (end_at == std::string::npos) end_at = env.size();
      if (env.compare(at, end_at - at, needle) == 0) {
        pids.push_back(std::stoi(name));
        break;
      }
      at = end_at + 1;
    }
  }
  return pids;
}

}  // namespace

TargetPlace place_of(pid_t pid) {
  TargetPlace place;
  const std::string proc_cgroup = read_all(fmt::format("/proc/{}/cgroup", pid));
  const auto mounts = cgroup_mounts();
  place.cpu_cgroup = controller_folder(proc_cgroup, mounts, "cpu", "cpu.max");
  place.memory_cgroup = controller_folder(proc_cgroup, mounts, "memory", "memory.max");
  for (const char* root : {"memory", ""})
    if (auto mount = mounts.find(root); mount != mounts.end() && place.memory_cgroup.rfind(mount->second + "/", 0) == 0)
    {
      place.memory_cgroup_name = place.memory_cgroup.substr(mount->second.size());
      place.memory_root = mount->second;
    }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(pid, sizeof set, &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) place.cpus.push_back(cpu);
  return place;
}

std::optional<SchedTimes> sched_times(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/schedstat", pid));
  SchedTimes t;
  if (!(in >> t.cpu_ns >> t.wait_ns)) return std::nullopt;
  return t;
}

bool StressNg::can_lower_oom_scores() {
  static const bool can = has_sys_resource();
  return can;
}

Result<std::string> StressNg::program() {
  auto path = find_program("stress-ng");
  if (!path) return fail("stress-ng is not installed: apt-get install stress-ng (rebound runs it for host stress faults)");
  return *path;
}

Result<void> StressNg::start(StepContext& context, nlohmann::json undo, const std::vector<std::string>& args,
                             const std::string& cgroup, const std::vector<int>& cpus, int timeout_s) {
  auto exe = program();
  if (!exe) return exe.error();
  const std::string tag = new_tag();
  undo["stress_tag"] = tag;
  // On record before it exists.
  if (auto r = context.record_path.empty() ? context.record(undo) : context.update_record(undo); !r) return r;
  ChildOptions o;
  o.exe = *exe;
  o.argv = {"stress-ng"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.argv.insert(o.argv.end(), {"--timeout", fmt::format("{}s", timeout_s), "--quiet"});
  if (cgroup.empty() && !cpus.empty()) o.argv.insert(o.argv.end(), {"--taskset", fmt::format("{}", fmt::join(cpus, ","))});
  o.env = child_environment({{kTagVariable, tag}});
  if (spare_from_oom_) {
    o.argv.push_back("--no-oom-adjust");
    if (can_lower_oom_scores()) o.oom_score_adj = "-999";
  }
  Fd procs;
  if (!cgroup.empty()) {
    procs.reset(::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs) return fail_errno(fmt::format("cannot place stress-ng in {}", cgroup));
    o.cgroup_procs_fd = procs.get();
  }
  auto pid = start_child(o);
  if (!pid) return pid.error();
  pid_ = *pid;
  auto keeper = GroupKeeper::start(pid_, 1000);
  if (!keeper) {
    (void)stop();
    return keeper.error();
  }
  keeper_ = std::move(*keeper);
  undo["stress_pgid"] = pid_;
  return context.update_record(undo);
}

std::vector<pid_t> StressNg::group() const {
  std::vector<pid_t> pids;
  if (pid_ < 0) return pids;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string stat = read_all(it->path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0, pgid = 0;
    rest >> state >> ppid >> pgid;
    if (pgid == pid_ && state != "Z") pids.push_back(std::stoi(name));
  }
  return pids;
}

uint64_t StressNg::resident_bytes() const {
  uint64_t total = 0;
  // Proportional set sizes: pages the forked stressors share with stress-ng are counted once.
  for (pid_t pid : group()) {
    std::istringstream rollup(read_all(fmt::format("/proc/{}/smaps_rollup", pid)));
    for (std::string line; std::getline(rollup, line);)
      if (line.rfind("Pss:", 0) == 0) total += std::strtoull(line.c_str() + 4, nullptr, 10) * 1024;
  }
  return total;
}

IoCounters StressNg::io() const {
  IoCounters total;
  for (pid_t pid : group()) {
    std::istringstream io(read_all(fmt::format("/proc/{}/io", pid)));
    std::string key;
    uint64_t value = 0;
    while (io >> key >> value) {
      if (key == "wchar:") total.written += value;
      else if (key == "rchar:") total.read += value;
      else if (key == "write_bytes:") total.device_written += value;
      else if (key == "read_bytes:") total.device_read += value;
    }
  }
  return total;
}

uint64_t StressNg::cpu_ns() const {
  uint64_t total = 0;
  for (pid_t pid : group())
    if (auto t = sched_times(pid)) total += t->cpu_ns;
  return total;
}

std::optional<double> StressNg::wait_running(size_t stressors, std::chrono::milliseconds timeout) const {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < timeout) {
    if (group().size() >= stressors + 1)
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::nullopt;
}

bool StressNg::running() {
  if (pid_ < 0 || ended_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) ended_ = true;
  return !ended_;
}

Result<void> StressNg::stop() {
  if (pid_ < 0) return {};
  if (keeper_) keeper_->dismiss();
  keeper_.reset();
  ::kill(-pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  int status = 0;
  while (!ended_ && ::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(-pid_, SIGKILL);  // a stressor that outlived its parent
  pid_ = -1;
  ended_ = false;
  return {};
}

Result<std::string> StressNg::recover(const nlohmann::json& undo) {
  const std::string tag = undo.value("stress_tag", "");
  if (tag.empty()) return fail("the record has no stress_tag: nothing to find the stressors by");
  // Only stress-ng itself keeps the tag readable (its stressors overwrite their environment with their
  // title); it leads its own process group, so the group is ended with it.
  auto pids = tagged_pids(tag);
  for (pid_t pid : pids) {
    const pid_t group = ::getpgid(pid);
    ::kill(group == pid ? -pid : pid, SIGKILL);
  }
  if (pids.empty()) return std::string("no stressor was left running");
  return fmt::format("ended {} stressor processes (pid {})", pids.size(), fmt::join(pids, ", "));
}

}  // namespace rebound
