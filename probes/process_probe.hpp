#pragma once
#include "probes/registry.hpp"

namespace rebound {

class ProcessProbe : public Probe {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  SampleResult sample() override;
  nlohmann::json describe() const override;

 private:
  TargetSpec target_;
  int64_t min_count_ = 1;
  std::optional<int64_t> max_count_;
};

}  // namespace rebound
