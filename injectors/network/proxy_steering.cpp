#include "injectors/network/proxy_steering.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace rebound {

namespace {

NetworkKeys proxy_keys() {
  NetworkKeys keys;
  keys.direction = false;    // a proxy fault's effects have their own (toxics: upstream or downstream)
  keys.probability = false;  // toxics have toxicity, HTTP rules a probability each
  keys.interface_scope = false;
  keys.cgroup_only_reason = "connections are steered into the proxy by connect() hooks on the target's cgroup";
  return keys;
}

std::string netns_of(pid_t pid) {
  std::error_code ec;
  return fs::read_symlink(fmt::format("/proc/{}/ns/net", pid), ec).string();
}

}  // namespace

bool ProxySteering::parse(TableReader& reader, const StepFactoryContext& context, nlohmann::json& parameters) {
  config_.action = NETFAULT_STEER;
  bool ok = filters_.parse(reader, context, proxy_keys(), config_, parameters);
  if (ok && !parse_existing_connections(reader, existing_, parameters)) ok = false;
  if (ok && config_.protocol != 0 && config_.protocol != IPPROTO_TCP) {
    reader.error("protocol", "the proxy carries TCP connections only: leave protocol out or write \"tcp\"");
    ok = false;
  }
  return ok;
}

void ProxySteering::describe(nlohmann::json& j) const {
  j["scope"] = "cgroup";
  j["protocol"] = "tcp";
  if (!filters_.peers.empty()) j["peers"] = filters_.peers;
  if (!filters_.ports.empty()) j["ports"] = filters_.ports;
  j["mechanism"] = "connect() hooks steer the target's matching connections into rebound's proxy";
}

Result<void> ProxySteering::preflight() {
  if (cgroup2_mount().empty())
    return fail("cgroup v2 is not mounted: a process tree cannot be scoped (mount cgroup2, or use interface = ...)");
  // Loaded now, before the timeline: the verifier's time must not count against the step's start.
  return load_netfault_once(skel_, kSteerPrograms);
}

Result<void> ProxySteering::start_proxy(StepContext& context, const StartProxy& start) {
  // The proxy listens where the target connects from: the first target process's network namespace.
  pid_t first = context.processes.empty() ? 0 : context.processes.front().pid;
  auto endpoint = start(bpf_map__fd(skel_->maps.steer_origins), first);
  if (!endpoint) return endpoint.error();
  if (first > 0) {
    std::string netns = netns_of(first);
    size_t elsewhere = 0;
    for (const auto& p : context.processes) elsewhere += netns_of(p.pid) != netns;
    context.detail["netns"] = netns;
    if (elsewhere > 0)
      context.detail["warning"] = fmt::format("{} of {} target processes are in another network namespace: their "
                                              "connections are not steered",
                                              elsewhere, context.processes.size());
  }
  context.detail["proxy_port"] = endpoint->port4;
  skel_->bss->cfg = config_;
  skel_->bss->steer.proxy_port4 = endpoint->port4;
  skel_->bss->steer.proxy_port6 = endpoint->port6;
  skel_->bss->steer.self_tgid = static_cast<__u32>(getpid());
  skel_->bss->steer.netns_cookie = endpoint->netns_cookie;
  return {};
}

Result<void> ProxySteering::prepare(StepContext& context, const StartProxy& start) {
  if (auto loaded = load_netfault_once(skel_, kSteerPrograms); !loaded) return loaded;
  skel_->data->armed = 0;  // attached switched off: the step's start is one store (apply)
  if (auto started = start_proxy(context, start); !started) return started;
  if (auto r = cgroups_.apply(context, *filters_.target, *skel_, kSteerPrograms); !r) {
    (void)revert(context);  // the prepare's error is the one to report
    return r;
  }
  prepared_ = true;
  return {};
}

Result<void> ProxySteering::apply(StepContext& context, const StartProxy& start) {
  if (!prepared_)
    if (auto r = prepare(context, start); !r) return r;
  switch_armed(skel_->data->armed, true, context);
  // The hooks are on: a connection reset now reconnects through the proxy.
  if (auto r = handle_existing_connections(context, existing_, config_); !r) {
    (void)revert(context);
    return r;
  }
  return {};
}

Result<void> ProxySteering::revert(StepContext& context) {
  // Hooks first, so no new connection is steered.
  switch_off(context);  // at one instant (if the runner has not already); then detached
  prepared_ = false;
  auto reverted = cgroups_.revert();
  report_netfault_counters(context, skel_, "connects", kSteerPrograms);  // the hooks see connects, not packets
  return reverted;
}

}  // namespace rebound
