#include "injectors/host/cpu_stress.hpp"

#include <fmt/format.h>
#include <thread>

namespace rebound {

namespace {
// How long the target is watched before the stressors start, for the "before" figures.
constexpr auto kBeforeWindow = std::chrono::milliseconds(200);

double share(uint64_t ns, std::chrono::steady_clock::duration over) {
  auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(over).count();
  return wall > 0 ? static_cast<double>(ns) / static_cast<double>(wall) : 0;
}
}  // namespace

std::vector<ParamDoc> CpuStress::params() {
  return {{"workers", "integer", "CPUs the target may use", "stress-ng CPU workers"},
          {"load", "integer", "100", "percent of a CPU each worker keeps busy (1 to 100)"}};
}

std::unique_ptr<StepAction> CpuStress::parse(TableReader& reader, const StepFactoryContext&) {
  auto step = std::make_unique<CpuStress>();
  if (auto duration = reader.duration("duration"))
    step->timeout_s_ = StressNg::timeout_for(*duration);
  if (auto workers = reader.integer("workers")) {
    if (*workers < 1 || *workers > 1024) {
      reader.error("workers", fmt::format("{} workers: write 1 to 1024 (or leave it out: one per CPU the target may "
                                          "use)",
                                          *workers));
      return nullptr;
    }
    step->workers_ = *workers;
  }
  if (auto load = reader.integer("load")) {
    if (*load < 1 || *load > 100) {
      reader.error("load", fmt::format("{}% load: write a percentage from 1 to 100", *load));
      return nullptr;
    }
    step->load_ = *load;
  }
  return step;
}

Result<void> CpuStress::preflight() {
  if (auto exe = StressNg::program(); !exe) return fail(fmt::format("cpu.stress: {}", exe.error().message));
  return {};
}

Result<void> CpuStress::apply(StepContext& context) {
  if (context.processes.empty()) return fail("cpu.stress: the target matched no process");
  watched_ = context.processes.front().pid;
  const TargetPlace place = place_of(watched_);
  const bool in_cgroup = !place.cpu_cgroup.empty();
  const int64_t workers = workers_for(place);
  // The "before" figures: the target's own CPU use and wait over a short window right before the stressors.
  auto first = sched_times(watched_);
  const auto first_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(kBeforeWindow);
  at_apply_ = sched_times(watched_).value_or(SchedTimes{});
  applied_at_ = std::chrono::steady_clock::now();
  if (first) {
    before_cpu_share_ = share(at_apply_.cpu_ns - first->cpu_ns, applied_at_ - first_at);
    before_wait_share_ = share(at_apply_.wait_ns - first->wait_ns, applied_at_ - first_at);
  }
  nlohmann::json undo = {{"placement", in_cgroup ? "cgroup" : "affinity"}};
  std::vector<std::string> args = {"--cpu", std::to_string(workers), "--cpu-load", std::to_string(load_)};
  if (auto r = stress_.start(context, undo, args, in_cgroup ? place.cpu_cgroup : "", in_cgroup ? std::vector<int>{} : place.cpus,
                             timeout_s_);
      !r)
    return r;
  // Applied means the load is there: stress-ng has forked its stressors.
  auto running_ms = stress_.wait_running(static_cast<size_t>(workers), std::chrono::seconds(3));
  if (!running_ms) {
    (void)stress_.stop();
    return fail(fmt::format("cpu.stress: stress-ng did not start its {} stressors within 3 s", workers));
  }
  context.detail["stressors_running_after_ms"] = *running_ms;
  context.detail["stressor_pid"] = stress_.pid();
  context.detail["workers"] = workers;
  context.detail["load_percent"] = load_;
  context.detail["placement"] = placement(place);
  return {};
}

int64_t CpuStress::workers_for(const TargetPlace& place) const {
  return workers_.value_or(std::max<int64_t>(1, static_cast<int64_t>(place.cpus.size())));
}

std::string CpuStress::placement(const TargetPlace& place) {
  return !place.cpu_cgroup.empty()
             ? fmt::format("in the target's cgroup {} (its CPU quota is shared with the stressors)", place.cpu_cgroup)
             : fmt::format("pinned to the target's CPUs {} (no CPU controller in its cgroup)", fmt::join(place.cpus, ","));
}

Result<std::string> CpuStress::plan(const std::vector<ProcessInfo>& processes) const {
  const TargetPlace place = place_of(processes.front().pid);
  const int64_t workers = workers_for(place);
  return fmt::format("run {} stress-ng CPU workers at {}% {}", workers, load_, placement(place));
}

Result<void> CpuStress::revert(StepContext& context) {
  const auto now = std::chrono::steady_clock::now();
  const uint64_t stressor_ns = stress_.cpu_ns();
  auto during = sched_times(watched_);
  auto r = stress_.stop();
  const double cpu_during = during ? share(during->cpu_ns - at_apply_.cpu_ns, now - applied_at_) : 0;
  const double wait_during = during ? share(during->wait_ns - at_apply_.wait_ns, now - applied_at_) : 0;
  context.detail["stressor_cpu_s"] = static_cast<double>(stressor_ns) / 1e9;
  context.detail["target"] = {{"pid", watched_},
                              {"cpu_share_before", before_cpu_share_},
                              {"cpu_share_during", cpu_during},
                              {"runqueue_wait_share_before", before_wait_share_},
                              {"runqueue_wait_share_during", wait_during}};
  context.effect = StepEffect{stressor_ns > 0,
                              fmt::format("stressors used {:.1f} CPU-s; target pid {}: CPU {:.0f}% -> {:.0f}%, waiting "
                                          "to run {:.0f}% -> {:.0f}% of the time",
                                          static_cast<double>(stressor_ns) / 1e9, watched_, before_cpu_share_ * 100,
                                          cpu_during * 100, before_wait_share_ * 100, wait_during * 100)};
  return r;
}

nlohmann::json CpuStress::describe() const {
  nlohmann::json d = {{"load_percent", load_}};
  if (workers_) d["workers"] = *workers_;
  return d;
}

}  // namespace rebound
