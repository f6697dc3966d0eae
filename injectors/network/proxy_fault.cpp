#include "injectors/network/proxy_fault.hpp"

#include <cctype>
#include <chrono>
#include <fmt/format.h>

#include <netinet/in.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace rebound {

namespace {

const ParamDoc kTarget{"target", "string", "", "a [[targets]] entry: its TCP connects are steered through the proxy"};
const ParamDoc kPeers{"peers", "string array", "any", "destination addresses or CIDRs whose connections get the toxics"};
const ParamDoc kPorts{"ports", "integer array", "any", "destination ports whose connections get the toxics"};
const ParamDoc kExisting{"existing", "string", "\"keep\"",
                         "the target's connections open before the step: \"keep\" (they bypass the proxy; the "
                         "detail counts them) or \"reset\" (reset at step start, so the target reconnects through it)"};
const ParamDoc kBuffer{"buffer", "string", "\"1MiB\"", "what each direction of a connection may hold back (64KiB-64MiB)"};

NetworkKeys proxy_keys() {
  NetworkKeys keys;
  keys.direction = false;  // toxics have their own: upstream or downstream
  keys.probability = false;  // toxics have toxicity
  keys.interface_scope = false;
  keys.cgroup_only_reason = "connections are steered into the proxy by connect() hooks on the target's cgroup";
  return keys;
}

std::string netns_of(pid_t pid) {
  std::error_code ec;
  return fs::read_symlink(fmt::format("/proc/{}/ns/net", pid), ec).string();
}

}  // namespace

std::unique_ptr<ProxyFault> ProxyFault::start_proxy_fault(TableReader& reader, const StepFactoryContext& context) {
  auto fault = std::make_unique<ProxyFault>();
  fault->config_.action = NETFAULT_STEER;
  if (!fault->filters_.parse(reader, context, proxy_keys(), fault->config_, fault->parameters_)) fault = nullptr;
  auto buffer = reader.string("buffer");
  if (fault && !parse_existing_connections(reader, fault->existing_, fault->parameters_)) return nullptr;
  if (fault && fault->config_.protocol != 0 && fault->config_.protocol != IPPROTO_TCP) {
    reader.error("protocol", "the proxy carries TCP connections only: leave protocol out or write \"tcp\"");
    return nullptr;
  }
  if (fault && buffer) {
    bool bits = false;
    auto bytes = parse_size(*buffer, bits);
    if (!bytes || bits || *bytes < ToxicProxy::kMinBuffer || *bytes > ToxicProxy::kMaxBuffer) {
      reader.error("buffer", fmt::format("'{}' is not a buffer size from 64KiB to 64MiB: write e.g. \"4MiB\" "
                                         "(B, kB, KiB, MB, MiB)",
                                         *buffer));
      return nullptr;
    }
    fault->buffer_bytes_ = static_cast<size_t>(*bytes);
    fault->parameters_["buffer_bytes"] = fault->buffer_bytes_;
  }
  return fault;
}

std::vector<ParamDoc> ProxyFault::delay_params() {
  std::vector<ParamDoc> docs = {kTarget,
                                {"latency", "duration", "", "added to each chunk of data, e.g. \"200ms\""},
                                {"jitter", "duration", "0", "spread, uniform in [-jitter, +jitter]"}};
  for (auto& d : toxic_common_params()) docs.push_back(d);
  docs.push_back(kPeers);
  docs.push_back(kPorts);
  docs.push_back(kBuffer);
  docs.push_back(kExisting);
  return docs;
}

std::unique_ptr<StepAction> ProxyFault::parse_delay(TableReader& reader, const StepFactoryContext& context) {
  auto fault = start_proxy_fault(reader, context);
  Toxic toxic;
  toxic.type = find_toxic_type("latency");
  bool ok = parse_toxic(reader, "", toxic);
  if (!fault || !ok) return nullptr;
  fault->toxics_.push_back(std::move(toxic));
  return fault;
}

std::string ProxyFault::toxic_summary() {
  auto names = toxic_names();
  std::string last = names.back();
  names.pop_back();
  std::string list = fmt::format("{} or {}", fmt::join(names, ", "), last);
  list[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(list[0])));
  return list + " on the target's TCP connections, through rebound's proxy";
}

std::vector<ParamDoc> ProxyFault::toxic_params() {
  auto names = toxic_names();
  std::vector<ParamDoc> docs = {
      kTarget,
      {"toxic", "string", "or toxics", fmt::format("one toxic: {}; its keys go alongside (see Toxics below)",
                                                   fmt::join(names, ", "))},
      {"toxics", "array of tables", "or toxic", "several toxics on the same connections: [{ toxic = \"...\", ... }]"}};
  for (auto& d : toxic_common_params()) docs.push_back(d);
  docs.push_back(kPeers);
  docs.push_back(kPorts);
  docs.push_back(kBuffer);
  docs.push_back(kExisting);
  return docs;
}

std::unique_ptr<StepAction> ProxyFault::parse_toxics(TableReader& reader, const StepFactoryContext& context) {
  auto fault = start_proxy_fault(reader, context);
  std::vector<Toxic> toxics;
  bool ok = true;
  if (reader.has("toxics")) {
    if (reader.has("toxic")) {
      reader.error("toxic", "give either one toxic (toxic = \"...\" with its keys) or a list (toxics = [...]), not both");
      reader.string("toxic");
      ok = false;
    }
    const toml::array* list = reader.array("toxics");
    if (list && list->empty()) {
      reader.error("toxics", "the list is empty: add at least one { toxic = \"...\" }");
      ok = false;
    }
    for (size_t i = 0; list && i < list->size(); ++i) {
      const toml::table* item = list->get(i)->as_table();
      if (!item) {
        reader.error("toxics", fmt::format("item {} is {}, not a table such as {{ toxic = \"latency\", latency = "
                                           "\"100ms\" }}",
                                           i + 1, describe_node(*list->get(i))));
        ok = false;
        continue;
      }
      TableReader sub(*item, fmt::format("{}[{}]", reader.key_path("toxics"), i), reader.diagnostics());
      Toxic toxic;
      if (parse_toxic(sub, "toxic", toxic)) toxics.push_back(std::move(toxic));
      else ok = false;
      sub.finish();
    }
  } else {
    Toxic toxic;
    if (parse_toxic(reader, "toxic", toxic)) toxics.push_back(std::move(toxic));
    else ok = false;
  }
  if (!fault || !ok) return nullptr;
  fault->toxics_ = std::move(toxics);
  return fault;
}

nlohmann::json ProxyFault::describe() const {
  nlohmann::json j = parameters_;
  j["scope"] = "cgroup";
  j["protocol"] = "tcp";
  if (!filters_.peers.empty()) j["peers"] = filters_.peers;
  if (!filters_.ports.empty()) j["ports"] = filters_.ports;
  j["mechanism"] = "connect() hooks steer the target's matching connections into rebound's proxy";
  j["toxics"] = nlohmann::json::array();
  for (const auto& t : toxics_) j["toxics"].push_back(t.parameters);
  return j;
}

Result<void> ProxyFault::preflight() {
  if (cgroup2_mount().empty())
    return fail("cgroup v2 is not mounted: a process tree cannot be scoped (mount cgroup2, or use interface = ...)");
  // Loaded now, before the timeline: the verifier's time must not count against the step's start.
  return load_netfault_once(skel_, kSteerPrograms);
}

void ProxyFault::configure() {
  skel_->bss->cfg = config_;
  skel_->bss->steer.proxy_port4 = proxy_->port4();
  skel_->bss->steer.proxy_port6 = proxy_->port6();
  skel_->bss->steer.self_tgid = static_cast<__u32>(getpid());
  skel_->bss->steer.netns_cookie = proxy_->netns_cookie();
}

Result<void> ProxyFault::start_proxy(StepContext& context) {
  // The proxy listens where the target connects from: the first target process's network namespace.
  pid_t first = context.processes.empty() ? 0 : context.processes.front().pid;
  proxy_.reset();  // a step applied again (repeat, schedules) starts from a fresh proxy
  auto proxy = ToxicProxy::start(toxics_, bpf_map__fd(skel_->maps.steer_origins), first, buffer_bytes_);
  if (!proxy) return proxy.error();
  proxy_ = std::move(*proxy);
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
  context.detail["proxy_port"] = proxy_->port4();
  return {};
}

Result<void> ProxyFault::prepare(StepContext& context) {
  if (auto loaded = load_netfault_once(skel_, kSteerPrograms); !loaded) return loaded;
  skel_->data->armed = 0;  // attached switched off: the step's start is one store (apply)
  if (auto started = start_proxy(context); !started) return started;
  configure();
  if (auto r = cgroups_.apply(context, *filters_.target, *skel_, kSteerPrograms); !r) {
    (void)revert(context);  // the prepare's error is the one to report
    proxy_.reset();
    return r;
  }
  prepared_ = true;
  return {};
}

Result<void> ProxyFault::apply(StepContext& context) {
  if (!prepared_)
    if (auto r = prepare(context); !r) return r;
  switch_armed(skel_->data->armed, true, context);
  // The hooks are on: a connection reset now reconnects through the proxy.
  if (auto r = handle_existing_connections(context, existing_, config_); !r) {
    (void)revert(context);
    proxy_.reset();
    return r;
  }
  return {};
}

Result<void> ProxyFault::revert(StepContext& context) {
  // Hooks first, so no new connection is steered; then the connections already proxied lose their toxics
  // and pass through untouched until they close, or until the experiment ends (finish).
  switch_off(context);  // at one instant (if the runner has not already); then detached
  prepared_ = false;
  auto reverted = cgroups_.revert();
  report_netfault_counters(context, skel_, "connects", kSteerPrograms);  // the hooks see connects, not packets
  if (proxy_) {
    proxy_->end_toxics();
    auto s = proxy_->stats();
    context.detail["connections"] = s.connections;
    context.detail["toxic_connections"] = s.toxic_connections;
    context.detail["unknown_origin"] = s.unknown_origin;
    context.detail["upstream_failures"] = s.upstream_failures;
    context.detail["resets"] = s.resets;
    context.detail["open_at_revert"] = s.open;
    context.effect = StepEffect{s.toxic_connections > 0,
                                s.connections == 0 ? std::string("steered 0 connections through the proxy: the target "
                                                                 "opened no matching connection during the fault")
                                                   : fmt::format("steered {} connections through the proxy, {} drew "
                                                                 "a toxic", s.connections, s.toxic_connections)};
  }
  return reverted;
}

void ProxyFault::finish() { proxy_.reset(); }

}  // namespace rebound
