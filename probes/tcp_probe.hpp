#pragma once
#include "probes/registry.hpp"

namespace rebound {

class TcpProbe : public Probe {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  SampleResult sample() override;
  nlohmann::json describe() const override;

 private:
  std::string host_;
  int port_ = 0;
  Millis timeout_{1000};
};

}  // namespace rebound
