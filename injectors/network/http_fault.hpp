#pragma once
// http.fault: the target's matching TCP connections are steered (as for tcp.toxic) into rebound's HTTP proxy,
// which frames their HTTP/1.x requests and responses and takes the rules' actions on them: abort with a status,
// reset, delay, replace. Everything else passes through untouched.
#include "injectors/network/http/http_proxy.hpp"
#include "injectors/network/http/http_rules.hpp"
#include "injectors/network/proxy_steering.hpp"

namespace rebound {

class HttpFault final : public StepAction {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<StepAction> parse(TableReader& reader, const StepFactoryContext& context);

  Result<void> preflight() override { return steering_.preflight(); }
  bool prepares() const override { return true; }
  Result<void> prepare(StepContext& context) override;
  Result<void> apply(StepContext& context) override;
  void switch_off(StepContext& context) override { steering_.switch_off(context); }
  // The hooks go; the connections already proxied stay, with no more actions, until the experiment ends.
  Result<void> revert(StepContext& context) override;
  void finish() override { proxy_.reset(); }
  nlohmann::json describe() const override;

 private:
  ProxySteering::StartProxy proxy_starter();
  void report(StepContext& context) const;

  nlohmann::json parameters_ = nlohmann::json::object();
  ProxySteering steering_;
  std::vector<HttpRule> rules_;
  std::unique_ptr<HttpProxy> proxy_;
};

}  // namespace rebound
