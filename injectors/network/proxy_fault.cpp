#include "injectors/network/proxy_fault.hpp"

#include <cctype>
#include <chrono>
#include <fmt/format.h>

namespace rebound {

namespace {

const ParamDoc kTarget{"target", "string", "", "a [[targets]] entry: its TCP connects are steered through the proxy"};
const ParamDoc kPeers{"peers", "string array", "any", "destination addresses or CIDRs whose connections get the toxics"};
const ParamDoc kPorts{"ports", "integer array", "any", "destination ports whose connections get the toxics"};
const ParamDoc kExisting{"existing", "string", "\"keep\"",
                         "the target's connections open before the step: \"keep\" (they bypass the proxy; the "
                         "detail counts them) or \"reset\" (reset at step start, so the target reconnects through it)"};
const ParamDoc kBuffer{"buffer", "string", "\"1MiB\"", "what each direction of a connection may hold back (64KiB-64MiB)"};

}  // namespace

std::unique_ptr<ProxyFault> ProxyFault::start_proxy_fault(TableReader& reader, const StepFactoryContext& context) {
  auto fault = std::make_unique<ProxyFault>();
  if (!fault->steering_.parse(reader, context, fault->parameters_)) fault = nullptr;
  auto buffer = reader.string("buffer");
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
  steering_.describe(j);
  j["toxics"] = nlohmann::json::array();
  for (const auto& t : toxics_) j["toxics"].push_back(t.parameters);
  return j;
}

Result<void> ProxyFault::preflight() { return steering_.preflight(); }

ProxySteering::StartProxy ProxyFault::proxy_starter() {
  return [this](int origins_map_fd, pid_t netns_pid) -> Result<ProxyEndpoint> {
    proxy_.reset();  // a step applied again (repeat, schedules) starts from a fresh proxy
    auto proxy = ToxicProxy::start(toxics_, origins_map_fd, netns_pid, buffer_bytes_);
    if (!proxy) return proxy.error();
    proxy_ = std::move(*proxy);
    return ProxyEndpoint{proxy_->port4(), proxy_->port6(), proxy_->netns_cookie()};
  };
}

Result<void> ProxyFault::prepare(StepContext& context) {
  auto r = steering_.prepare(context, proxy_starter());
  if (!r) proxy_.reset();
  return r;
}

Result<void> ProxyFault::apply(StepContext& context) {
  auto r = steering_.apply(context, proxy_starter());
  if (!r) proxy_.reset();
  return r;
}

Result<void> ProxyFault::revert(StepContext& context) {
  // Hooks first, so no new connection is steered; then the connections already proxied lose their toxics
  // and pass through untouched until they close, or until the experiment ends (finish).
  auto reverted = steering_.revert(context);
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
