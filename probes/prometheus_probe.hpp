#pragma once
// The `prometheus` probe: an instant PromQL query against a Prometheus HTTP API, its result judged against
// `expect` (probes/query_answer.hpp says how several series are judged and what cannot be judged).
#include <string>
#include <vector>

#include "probes/expectation.hpp"
#include "probes/http_client.hpp"
#include "probes/query_answer.hpp"
#include "probes/registry.hpp"

namespace rebound {

class PrometheusProbe : public Probe {
 public:
  static constexpr size_t kMaxAnswer = 8 << 20;

  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  SampleResult sample() override;
  nlohmann::json describe() const override;

 private:
  std::string url_;       // the base URL as written
  std::string endpoint_;  // .../api/v1/query
  std::string query_;
  std::string form_;  // the POST body: query=...&timeout=...
  Expectation expect_;
  SeriesMode mode_ = SeriesMode::All;
  Millis timeout_{1000};
  HttpClient client_;
};

}  // namespace rebound
