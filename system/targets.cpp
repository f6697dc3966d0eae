#include "system/targets.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "system/target_guard.hpp"
#include "system/target_hints.hpp"
#include "config/user_regex.hpp"

namespace fs = std::filesystem;

namespace rebound {

const char* to_string(TargetKind kind) {
  switch (kind) {
    case TargetKind::pid: return "pid";
    case TargetKind::pidfile: return "pidfile";
    case TargetKind::exe: return "exe";
    case TargetKind::cmdline: return "cmdline";
    case TargetKind::cgroup: return "cgroup";
    case TargetKind::setup: return "setup";
  }
  return "?";
}

nlohmann::json to_json(const TargetSpec& spec) {
  nlohmann::json j{{"name", spec.name}, {to_string(spec.kind), spec.value}, {"max_targets", spec.max_targets}};
  j["kind"] = to_string(spec.kind);
  if (spec.kind == TargetKind::setup && spec.setup_process)
    if (auto root = spec.setup_process->get()) j["setup_pid"] = root->pid;
  if (spec.allow_init) j["allow_init"] = true;
  if (spec.count) j["count"] = *spec.count;
  if (spec.percent) j["percent"] = *spec.percent;
  if (spec.count || spec.percent) {
    j["pick"] = spec.pick == TargetPick::random ? "random" : "lowest_pids";
    if (spec.pick == TargetPick::random) j["seed"] = spec.seed;
  }
  return j;
}

nlohmann::json TargetDraw::to_json() const {
  return {{"matched", matched}, {"selected", selected}, {"how", how}};
}

nlohmann::json to_json(const ProcessInfo& info) {
  return {{"pid", info.pid}, {"start_time", info.start_time}, {"comm", info.comm}, {"cmdline", info.cmdline}};
}

static std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void SetupProcessSlot::set(Root root) {
  std::lock_guard lock(mutex_);
  root_ = root;
}

std::optional<SetupProcessSlot::Root> SetupProcessSlot::get() const {
  std::lock_guard lock(mutex_);
  return root_;
}

std::string not_started_yet(const TargetSpec& spec) {
  if (spec.kind != TargetKind::setup || (spec.setup_process && spec.setup_process->get())) return "";
  return fmt::format("the process setup step '{}' starts (and its descendants)", spec.value);
}

struct StatFields {
  char state = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  uint64_t start_time = 0;
};

static std::optional<StatFields> read_stat(pid_t pid) {
  std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
  // comm may contain spaces and parentheses: fields resume after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  StatFields f;
  std::string skip;
  rest >> f.state >> f.ppid >> f.pgid;
  for (int field = 6; field < 22; ++field) rest >> skip;
  rest >> f.start_time;
  if (!rest) return std::nullopt;
  return f;
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  auto f = read_stat(pid);
  if (!f) return std::nullopt;
  return f->start_time;
}

char process_state(pid_t pid) {
  auto f = read_stat(pid);
  return f ? f->state : 0;
}

std::optional<ProcessInfo> read_process(pid_t pid) {
  auto f = read_stat(pid);
  if (!f || f->state == 'Z' || f->state == 'X') return std::nullopt;
  ProcessInfo info{pid, f->start_time, {}, {}};
  info.comm = read_file(fmt::format("/proc/{}/comm", pid));
  if (!info.comm.empty() && info.comm.back() == '\n') info.comm.pop_back();
  info.cmdline = read_file(fmt::format("/proc/{}/cmdline", pid));
  while (!info.cmdline.empty() && info.cmdline.back() == '\0') info.cmdline.pop_back();
  std::replace(info.cmdline.begin(), info.cmdline.end(), '\0', ' ');
  return info;
}

bool process_is(pid_t pid, uint64_t start_time) {
  auto f = read_stat(pid);
  return f && f->start_time == start_time && f->state != 'Z' && f->state != 'X';
}

static std::string executable_name(pid_t pid, const ProcessInfo& info) {
  std::error_code ec;
  auto exe = fs::read_symlink(fmt::format("/proc/{}/exe", pid), ec);
  if (!ec) {
    std::string name = exe.filename().string();
    const std::string deleted = " (deleted)";
    if (name.size() > deleted.size() && name.ends_with(deleted)) name.resize(name.size() - deleted.size());
    return name;
  }
  return info.comm;
}

// The processes of a cgroup and of every cgroup below it (a slice's services, a container's children),
// as the faults on that cgroup reach them all: cgroup programs are inherited by descendants.
static Result<std::vector<pid_t>> cgroup_tree_pids(const std::string& root) {
  std::vector<pid_t> pids;
  auto read_procs = [&](const std::string& dir) {
    std::ifstream in(dir + "/cgroup.procs");
    for (long pid = 0; in >> pid;) pids.push_back(static_cast<pid_t>(pid));
    return static_cast<bool>(in.is_open());
  };
  if (!read_procs(root))
    return fail(fmt::format("cannot read {}/cgroup.procs: {} (is it a cgroup v2 directory?)", root,
                            std::strerror(errno)));
  std::error_code ec;
  // A cgroup may vanish while it is walked: what was read so far still counts, rather than failing the target.
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) read_procs(it->path().string());
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

static std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) pids.push_back(std::stoi(name));
  }
  return pids;
}

// The process a setup step started, if it is still the same process, and every live descendant: children by
// ppid (each started no earlier than its parent, so a reused pid never joins), and the members of its process
// group started after it (what a killed shell left behind). A reused root pid matches nothing.
static Result<std::vector<pid_t>> setup_tree_pids(const TargetSpec& spec) {
  auto root = spec.setup_process ? spec.setup_process->get() : std::nullopt;
  if (!root)
    return fail(fmt::format("setup step '{}' has not started its process yet (setup targets resolve once it runs)",
                            spec.value));
  std::map<pid_t, StatFields> stats;
  for (pid_t pid : all_pids())
    if (auto f = read_stat(pid)) stats[pid] = *f;
  auto found = stats.find(root->pid);
  const bool root_alive = found != stats.end() && root->start_time != 0 && found->second.start_time == root->start_time;
  if (found != stats.end() && !root_alive) return std::vector<pid_t>{};  // the pid now belongs to another process
  std::set<pid_t> tree;
  if (root_alive) tree.insert(root->pid);
  for (bool grew = root_alive; grew;) {  // breadth by rounds: a handful of levels in practice
    grew = false;
    for (const auto& [pid, f] : stats)
      if (!tree.count(pid) && tree.count(f.ppid) && f.start_time >= stats.at(f.ppid).start_time) {
        tree.insert(pid);
        grew = true;
      }
  }
  if (root->start_time != 0)
    for (const auto& [pid, f] : stats)
      if (f.pgid == root->pid && f.start_time >= root->start_time) tree.insert(pid);
  return std::vector<pid_t>(tree.begin(), tree.end());
}

static Result<std::vector<pid_t>> candidate_pids(const TargetSpec& spec) {
  std::vector<pid_t> pids;
  switch (spec.kind) {
    case TargetKind::pid: {
      const long long pid = std::strtoll(spec.value.c_str(), nullptr, 10);
      if (auto problem = pid_range_problem(pid); !problem.empty())
        return fail(fmt::format("{} is not a process id: {}", spec.value, problem));
      pids.push_back(static_cast<pid_t>(pid));
      return pids;
    }
    case TargetKind::pidfile: {
      std::ifstream in(spec.value);
      if (!in) return fail_errno(fmt::format("cannot read pidfile {}", spec.value));
      long long pid = 0;
      if (!(in >> pid) || pid <= 0) return fail(fmt::format("pidfile {} does not hold a pid", spec.value));
      if (auto problem = pid_range_problem(pid); !problem.empty())
        return fail(fmt::format("pidfile {} holds {}, which is not a process id: {}", spec.value, pid, problem));
      pids.push_back(static_cast<pid_t>(pid));
      return pids;
    }
    case TargetKind::cgroup:
      return cgroup_tree_pids(spec.value);
    case TargetKind::setup:
      return setup_tree_pids(spec);
    case TargetKind::exe:
    case TargetKind::cmdline:
      return all_pids();
  }
  return pids;
}

Result<std::vector<ProcessInfo>> match_target(const TargetSpec& spec) {
  auto pids = candidate_pids(spec);
  if (!pids) return pids.error();
  const auto protect = protected_pids();
  std::optional<UserRegex> pattern;
  if (spec.kind == TargetKind::cmdline) {
    auto re = UserRegex::compile(spec.value);
    if (!re) return fail(fmt::format("cmdline: {}", re.error().message));
    pattern.emplace(std::move(*re));
  }
  const bool named = spec.kind == TargetKind::pid || spec.kind == TargetKind::pidfile;
  std::vector<ProcessInfo> out;
  for (pid_t pid : *pids) {
    if (named) {
      if (auto why = refusal(pid, protect, spec.allow_init); !why.empty()) return fail(why);
    } else if (protect.self_and_ancestors.count(pid) || (!spec.allow_init && protect.init_and_session.count(pid))) {
      continue;  // a broad match never hits rebound, its parents, init or its session leader
    }
    auto info = read_process(pid);
    if (!info) continue;
    if (spec.kind == TargetKind::exe && executable_name(pid, *info) != spec.value) continue;
    if (spec.kind == TargetKind::cmdline && (info->cmdline.empty() || !pattern->search(info->cmdline)))
      continue;
    out.push_back(std::move(*info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return out;
}

std::vector<ProcessInfo> draw_processes(const std::vector<ProcessInfo>& matched, size_t n, TargetPick pick,
                                        uint64_t seed) {
  std::vector<ProcessInfo> pool = matched;
  std::sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  n = std::min(n, pool.size());
  if (pick == TargetPick::random) {
    // A partial Fisher-Yates shuffle over mt19937_64, whose sequence the standard fixes: the same seed and the
    // same matching processes give the same draw on every host and build.
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < n; ++i) std::swap(pool[i], pool[i + rng() % (pool.size() - i)]);
  }
  pool.resize(n);
  std::sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return pool;
}

namespace {

// The blast radius of a target with count or percent: how many of `matched` it selects, or why none.
Result<size_t> selection_size(const TargetSpec& spec, size_t matched) {
  if (spec.count) return std::min(matched, static_cast<size_t>(*spec.count));
  const auto n = static_cast<size_t>(std::floor(static_cast<double>(matched) * *spec.percent / 100.0 + 1e-9));
  if (n == 0)
    return fail(fmt::format("target '{}' ({} = \"{}\"): percent = {} of the {} matching process(es) selects none "
                            "(rounded down); raise percent, or use count = 1",
                            spec.name, to_string(spec.kind), spec.value, *spec.percent, matched));
  return n;
}

Result<std::vector<ProcessInfo>> draw_target(const TargetSpec& spec, std::vector<ProcessInfo> matched, TargetDraw* draw) {
  auto n = selection_size(spec, matched.size());
  if (!n) return n.error();
  if (spec.max_targets_set && static_cast<int64_t>(*n) > spec.max_targets)
    return fail(fmt::format("target '{}' selects {} processes but max_targets = {}; lower count or percent, or raise "
                            "max_targets",
                            spec.name, *n, spec.max_targets));
  auto chosen = draw_processes(matched, *n, spec.pick, spec.seed);
  if (draw) {
    draw->drawn = true;
    draw->matched = matched.size();
    for (const auto& p : chosen) draw->selected.push_back(p.pid);
    draw->how = spec.pick == TargetPick::random
                    ? fmt::format("{} of {} at random (seed {})", chosen.size(), matched.size(), spec.seed)
                    : fmt::format("{} of {}, lowest pids first", chosen.size(), matched.size());
  }
  return chosen;
}

}  // namespace

Result<std::vector<ProcessInfo>> resolve_target(const TargetSpec& spec, TargetDraw* draw) {
  auto matched = match_target(spec);
  if (!matched) return fail(fmt::format("target '{}': {}", spec.name, matched.error().message));
  if (matched->empty())
    return fail(fmt::format("target '{}' ({} = \"{}\") matches no running process{}", spec.name, to_string(spec.kind),
                            spec.value, no_match_hint(spec)));
  if (spec.count || spec.percent) return draw_target(spec, std::move(*matched), draw);
  if (static_cast<int64_t>(matched->size()) > spec.max_targets) {
    std::vector<std::string> pids;
    for (const auto& p : *matched) pids.push_back(std::to_string(p.pid));
    return fail(fmt::format("target '{}' ({} = \"{}\") matches {} processes (pids {}) but max_targets = {}; "
                            "narrow the match or raise max_targets",
                            spec.name, to_string(spec.kind), spec.value, matched->size(), fmt::join(pids, ", "),
                            spec.max_targets));
  }
  return matched;
}

}  // namespace rebound
