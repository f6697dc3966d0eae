#include "injectors/network/http_fault.hpp"

#include <fmt/format.h>

namespace rebound {

std::vector<ParamDoc> HttpFault::params() {
  std::vector<ParamDoc> docs = {
      {"target", "string", "", "a [[targets]] entry: its TCP connects are steered through the HTTP proxy"},
      {"rules", "array of tables", "or one rule's keys", "[{ path = \"^/api/\", action = \"abort\", status = 503 }, "
                                                          "...]: the first rule that matches a request is its rule"}};
  for (auto& d : http_rule_params()) docs.push_back(d);
  docs.push_back({"peers", "string array", "any", "destination addresses or CIDRs whose connections are proxied"});
  docs.push_back({"ports", "integer array", "any", "destination ports whose connections are proxied (e.g. [80, 8080])"});
  docs.push_back({"existing", "string", "\"keep\"",
                  "the target's connections open before the step: \"keep\" (they bypass the proxy) or \"reset\" "
                  "(reset at step start, so the target reconnects through it)"});
  return docs;
}

std::unique_ptr<StepAction> HttpFault::parse(TableReader& reader, const StepFactoryContext& context) {
  auto fault = std::make_unique<HttpFault>();
  bool ok = fault->steering_.parse(reader, context, fault->parameters_);
  if (!parse_http_rules(reader, fault->rules_)) ok = false;
  if (!ok) return nullptr;
  return fault;
}

nlohmann::json HttpFault::describe() const {
  nlohmann::json j = parameters_;
  steering_.describe(j);
  j["rules"] = nlohmann::json::array();
  for (const auto& r : rules_) j["rules"].push_back(r.parameters);
  return j;
}

ProxySteering::StartProxy HttpFault::proxy_starter() {
  return [this](int origins_map_fd, pid_t netns_pid) -> Result<ProxyEndpoint> {
    proxy_.reset();  // a step applied again (repeat, schedules) starts from a fresh proxy
    auto proxy = HttpProxy::start(rules_, origins_map_fd, netns_pid);
    if (!proxy) return proxy.error();
    proxy_ = std::move(*proxy);
    return ProxyEndpoint{proxy_->port4(), proxy_->port6(), proxy_->netns_cookie()};
  };
}

Result<void> HttpFault::prepare(StepContext& context) {
  auto r = steering_.prepare(context, proxy_starter());
  if (!r) proxy_.reset();
  return r;
}

Result<void> HttpFault::apply(StepContext& context) {
  auto r = steering_.apply(context, proxy_starter());
  if (!r) proxy_.reset();
  return r;
}

Result<void> HttpFault::revert(StepContext& context) {
  auto reverted = steering_.revert(context);
  if (proxy_) {
    proxy_->end_rules();
    report(context);
  }
  return reverted;
}

void HttpFault::report(StepContext& context) const {
  const HttpCounters& c = proxy_->counters();
  auto& d = context.detail;
  d["connections"] = c.connections.load();
  d["requests"] = c.requests.load();
  d["responses"] = c.responses.load();
  d["non_http_connections"] = c.non_http.load();
  d["parse_errors"] = c.parse_errors.load();
  d["upgraded"] = c.upgraded.load();
  d["unknown_origin"] = c.unknown_origin.load();
  d["upstream_failures"] = c.upstream_failures.load();
  d["open_at_revert"] = c.open.load();
  d["matched"] = nlohmann::json::array();
  for (size_t i = 0; i < c.rule_count; ++i) d["matched"].push_back(c.matched[i].load());
  uint64_t taken = 0;
  std::vector<std::string> parts;
  for (size_t i = 0; i < kHttpActions; ++i) {
    uint64_t n = c.actions[i].load();
    d["actions"][kHttpActionNames[i]] = n;
    taken += n;
    if (n > 0) parts.push_back(fmt::format("{} {}", n, kHttpActionNames[i]));
  }
  std::string summary;
  if (c.connections == 0)
    summary = "steered 0 connections through the HTTP proxy: the target opened no matching connection during the fault";
  else
    summary = fmt::format("{} requests on {} connections through the HTTP proxy: {}{}", c.requests.load(),
                          c.connections.load(), parts.empty() ? std::string("no action taken") : fmt::format("{}", fmt::join(parts, ", ")),
                          c.non_http ? fmt::format(" ({} connections were not HTTP/1.x: passed through)", c.non_http.load()) : "");
  context.effect = StepEffect{taken > 0, summary};
}

}  // namespace rebound
