#include "injectors/host/memory_stress.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>
#include <thread>

#include "config/byte_size.hpp"

namespace rebound {

std::vector<ParamDoc> MemoryStress::params() {
  return {{"size", "string", "(required)",
           "bytes to hold, e.g. \"512MiB\", or a share of the target's memory limit such as \"90%\""},
          {"workers", "integer", "1", "stress-ng VM workers that share the size"}};
}

std::unique_ptr<StepAction> MemoryStress::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<MemoryStress>();
  if (auto duration = reader.duration("duration"))
    step->timeout_s_ = StressNg::timeout_for(*duration);
  auto workers = reader.integer("workers");
  const bool has_size = reader.has("size");
  auto size = read_size(reader, "size", "the target's memory limit");
  if (workers && (*workers < 1 || *workers > 64)) {
    reader.error("workers", fmt::format("{} workers: write 1 to 64", *workers));
    return nullptr;
  }
  if (!has_size) {
    reader.error("size", "say how much memory to hold: size = \"512MiB\", or \"90%\" of the target's memory limit");
    return nullptr;
  }
  if (!size) return nullptr;  // the error is recorded
  if (size->bytes && *size->bytes < 4096) {
    reader.error("size", fmt::format("{} is less than a page: write at least \"4KiB\"", format_bytes(*size->bytes)));
    return nullptr;
  }
  step->workers_ = workers.value_or(1);
  step->size_ = size->bytes;
  step->size_percent_ = size->percent;
  return step;
}

Result<void> MemoryStress::preflight() {
  if (auto exe = StressNg::program(); !exe) return fail(fmt::format("memory.stress: {}", exe.error().message));
  return {};
}

Result<uint64_t> MemoryStress::bytes_to_hold(const std::optional<MemoryCgroup>& cgroup) const {
  if (size_) return *size_;
  auto limit = cgroup ? cgroup->limit() : std::nullopt;
  if (!limit)
    return fail(fmt::format("memory.stress: size = \"{}%\" is a share of the target's memory limit, and {}: write a "
                            "size such as \"512MiB\"",
                            *size_percent_,
                            cgroup ? fmt::format("its memory cgroup {} has none", cgroup->folder())
                                   : std::string("the target is in no memory cgroup")));
  return static_cast<uint64_t>(static_cast<double>(*limit) * *size_percent_ / 100);
}

Result<void> MemoryStress::apply(StepContext& context) {
  if (context.processes.empty()) return fail("memory.stress: the target matched no process");
  for (const auto& p : context.processes) {
    target_pids_.push_back(p.pid);
    std::ifstream comm(fmt::format("/proc/{}/comm", p.pid));
    if (std::string name; std::getline(comm, name)) target_commands_.push_back(name);
  }
  const TargetPlace place = place_of(target_pids_.front());
  if (!place.memory_cgroup.empty()) cgroup_.emplace(place.memory_cgroup);
  cgroup_name_ = place.memory_cgroup_name;
  auto bytes = bytes_to_hold(cgroup_);
  if (!bytes) return bytes.error();
  held_ = *bytes;
  if (auto log = KernelLog::from_now()) kernel_log_ = std::move(*log);
  if (cgroup_) {
    oom_kills_before_ = cgroup_->oom_kills();
    limit_hits_before_ = cgroup_->limit_hits();
    usage_before_ = cgroup_->usage();
  }
  stress_.spare_from_oom_killer();
  const std::vector<std::string> args = {"--vm",      std::to_string(workers_), "--vm-bytes", std::to_string(held_),
                                         "--vm-hang", "0",                      "--vm-populate"};
  if (auto r = stress_.start(context, {{"placement", cgroup_ ? "cgroup" : "none"}}, args,
                             cgroup_ ? cgroup_->folder() : "", {}, timeout_s_);
      !r)
    return r;
  // Applied means the memory is held: each worker runs (a watcher that forks the stressor, again after an OOM
  // kill), then its pages are in.
  const auto start = std::chrono::steady_clock::now();
  if (!stress_.wait_running(static_cast<size_t>(workers_), std::chrono::seconds(3))) {
    (void)stress_.stop();
    return fail(fmt::format("memory.stress: stress-ng did not start its {} VM workers within 3 s", workers_));
  }
  if (cgroup_) {
    // stress-ng itself (10 MB of libraries and bookkeeping) leaves the cgroup once its workers run there, so that
    // the OOM killer chooses among the target and the workers only; its charges stay behind (a few MB).
    const std::string home = place_of(::getpid()).memory_cgroup;
    std::ofstream(fmt::format("{}/cgroup.procs", home.empty() ? place.memory_root : home)) << stress_.pid();
  }
  uint64_t resident = 0;
  while ((resident = stress_.resident_bytes()) < held_ * 95 / 100 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  resident_peak_ = resident;
  context.detail["size_bytes"] = held_;
  context.detail["workers"] = workers_;
  context.detail["resident_bytes"] = resident;
  context.detail["held_after_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  context.detail["oom_choice"] =
      StressNg::can_lower_oom_scores()
          ? "the stressors are the OOM killer's last choice: the target's processes go first"
          : "the kernel kills the largest process (rebound lacks CAP_SYS_RESOURCE to spare the stressors; each of the "
            "workers holds size/workers)";
  context.detail["placement"] = placement(cgroup_);
  return {};
}

std::string MemoryStress::placement(const std::optional<MemoryCgroup>& cgroup) {
  return cgroup ? fmt::format("charged to the target's memory cgroup {} ({})", cgroup->folder(),
                              cgroup->limit() ? "limit " + format_bytes(*cgroup->limit())
                                              : std::string("no limit: the machine's memory is what they take"))
                : std::string("not in a memory cgroup of the target's (it has none): the whole machine's memory");
}

Result<std::string> MemoryStress::plan(const std::vector<ProcessInfo>& processes) const {
  const TargetPlace place = place_of(processes.front().pid);
  std::optional<MemoryCgroup> cgroup;
  if (!place.memory_cgroup.empty()) cgroup.emplace(place.memory_cgroup);
  auto bytes = bytes_to_hold(cgroup);
  if (!bytes) return bytes.error();
  return fmt::format("hold {} in {} stress-ng VM workers, {}", format_bytes(*bytes), workers_, placement(cgroup));
}

Result<void> MemoryStress::revert(StepContext& context) {
  resident_peak_ = std::max(resident_peak_, stress_.resident_bytes());
  const bool ended_early = !stress_.running();
  auto r = stress_.stop();
  nlohmann::json kills = nlohmann::json::array();
  std::vector<std::string> victims;
  int target_kills = 0;
  if (kernel_log_)
    for (const auto& kill : kernel_log_->oom_kills()) {
      // A process of the target: one it had, or a restart of it (the same command, as the kernel names it).
      const bool target = std::find(target_pids_.begin(), target_pids_.end(), kill.pid) != target_pids_.end() ||
                          std::find(target_commands_.begin(), target_commands_.end(), kill.command) != target_commands_.end();
      if (!target && (cgroup_name_.empty() || kill.task_memcg != cgroup_name_)) continue;  // another cgroup's
      target_kills += target ? 1 : 0;
      kills.push_back({{"pid", kill.pid}, {"command", kill.command}, {"target", target}, {"cgroup", kill.task_memcg}});
      victims.push_back(fmt::format("{} ({})", kill.pid, kill.command));
    }
  context.detail["resident_bytes"] = resident_peak_;
  context.detail["oom_kills"] = kills;
  context.detail["oom_kills_of_target"] = target_kills;
  if (!kernel_log_) context.detail["oom_kills_note"] = "the kernel log could not be read: victims unknown";
  std::string summary = fmt::format("the stressors held {} (size {}, with stress-ng's own)", format_bytes(resident_peak_),
                                    format_bytes(held_));
  if (cgroup_) {
    const uint64_t oom = cgroup_->oom_kills() - oom_kills_before_, hits = cgroup_->limit_hits() - limit_hits_before_;
    context.detail["cgroup"] = {{"folder", cgroup_->folder()},
                                {"usage_before_bytes", usage_before_},
                                {"oom_kills", oom},
                                {"limit_hits", hits}};
    if (auto psi = cgroup_->pressure_some_avg10()) context.detail["cgroup"]["pressure_some_avg10"] = *psi;
    summary += fmt::format(" in {}; its limit was hit {} times, {} OOM kills", cgroup_->folder(), hits, oom);
  }
  if (!victims.empty()) summary += fmt::format(" (the kernel logged: {})", fmt::join(victims, ", "));
  if (ended_early) {
    context.detail["stressors_ended_early"] = true;
    summary += "; stress-ng ended before the fault did, so the pressure ended early";
  }
  context.effect = StepEffect{resident_peak_ > 0, summary};
  return r;
}

nlohmann::json MemoryStress::describe() const {
  nlohmann::json d = {{"workers", workers_}};
  if (size_) d["size_bytes"] = *size_;
  if (size_percent_) d["size_percent_of_limit"] = *size_percent_;
  return d;
}

}  // namespace rebound
