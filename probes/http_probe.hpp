#pragma once
#include <optional>
#include <vector>

#include "config/command_spec.hpp"
#include "config/user_regex.hpp"
#include "probes/http_client.hpp"
#include "probes/registry.hpp"

namespace rebound {

class HttpProbe : public Probe {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  SampleResult sample() override;
  nlohmann::json describe() const override;

 private:
  std::string method_ = "GET";
  std::string url_;
  std::vector<std::string> headers_;
  std::string body_;
  Millis timeout_{1000};
  std::vector<int64_t> expect_status_;  // empty: any 2xx or 3xx
  std::string body_pattern_text_;
  std::optional<UserRegex> body_pattern_;
  std::optional<Millis> max_latency_;
  HttpClient client_;
};

}  // namespace rebound
