#pragma once
// Latency and connection toxics for one process tree: connect hooks on the target's cgroup steer its
// matching TCP connects into rebound's proxy, which forwards them to where they were going, with toxics.
#include "injectors/network/proxy_steering.hpp"
#include "injectors/network/toxic_proxy.hpp"

namespace rebound {

class ProxyFault final : public StepAction {
 public:
  // network.delay: the latency toxic alone, in fewer words.
  static std::vector<ParamDoc> delay_params();
  static std::unique_ptr<StepAction> parse_delay(TableReader& reader, const StepFactoryContext& context);
  // tcp.toxic: one toxic (toxic = "...", its keys alongside) or several (toxics = [{ toxic = "...", ... }, ...]).
  static std::string toxic_summary();  // names every toxic of the registry
  static std::vector<ParamDoc> toxic_params();
  static std::unique_ptr<StepAction> parse_toxics(TableReader& reader, const StepFactoryContext& context);

  Result<void> preflight() override;
  // The proxy listens and the hooks are attached switched off before the method starts: until apply's one
  // store, connects go straight to where they were meant to.
  bool prepares() const override { return true; }
  Result<void> prepare(StepContext& context) override;
  Result<void> apply(StepContext& context) override;
  void switch_off(StepContext& context) override { steering_.switch_off(context); }
  Result<void> revert(StepContext& context) override;
  // Ends the proxy: connections still open are closed (reset when they hold data).
  void finish() override;
  nlohmann::json describe() const override;

 private:
  static std::unique_ptr<ProxyFault> start_proxy_fault(TableReader& reader, const StepFactoryContext& context);
  ProxySteering::StartProxy proxy_starter();

  nlohmann::json parameters_ = nlohmann::json::object();
  ProxySteering steering_;  // a target, peers and ports: direction and probability are the toxics' own
  std::vector<Toxic> toxics_;
  size_t buffer_bytes_ = ToxicProxy::kDefaultBuffer;
  std::unique_ptr<ToxicProxy> proxy_;
};

}  // namespace rebound
