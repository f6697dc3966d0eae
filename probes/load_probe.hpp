#pragma once
// An open-loop load probe (issue 14): requests at a fixed arrival rate, on schedule whether or not earlier ones
// have answered, latency measured from each request's scheduled start (no coordinated omission). One event loop
// on libcurl's multi interface; every request is a sample, aggregated per 10 ms bucket (probes/probe.hpp).
#include <curl/curl.h>
#include <optional>
#include <string>
#include <vector>

#include "config/command_spec.hpp"
#include "config/user_regex.hpp"
#include "probes/registry.hpp"

namespace rebound {

struct LoadRequest {
  std::string method = "GET";
  std::string url;  // http(s)://..., or the curl URL of a tcp:// target (http://host:port, connect only)
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  double weight = 1;
};

struct LoadSpec {
  double rate_per_s = 0;
  std::vector<LoadRequest> requests;
  bool tcp = false;    // url = "tcp://host:port": a connect is the request
  bool reuse = true;   // connections = "reuse" (keep-alive pool of pool_size) or "new"
  long pool_size = 32;
  long max_in_flight = 1000;
  Millis timeout{1000};
  std::vector<int64_t> expect_status;  // empty: any 2xx or 3xx
  std::optional<UserRegex> body_pattern;
  std::optional<Millis> max_latency;

  // The request for the n-th scheduled one: a fixed, evenly spread sequence proportional to the weights.
  size_t pick(uint64_t n) const;
  // Why an ended transfer failed, or "" when it is ok.
  std::string judge(CURL* easy, CURLcode rc, const std::string& body, double latency_ms) const;
  // Sets up an easy handle for a request (body collected into *body when expect_body needs it).
  void configure(CURL* easy, const LoadRequest& r, curl_slist* headers, std::string* body) const;
};

class LoadProbe : public Probe, public LoadGenerator {
 public:
  static std::vector<ParamDoc> params();
  static std::unique_ptr<Probe> parse(TableReader& reader, const ProbeFactoryContext& context);
  ~LoadProbe() override;
  // One request, blocking (a setup's ready_probe and checks use it).
  SampleResult sample() override;
  nlohmann::json describe() const override;
  LoadGenerator* load() override { return this; }
  void run(std::chrono::steady_clock::time_point epoch, const std::atomic<bool>& stop, LoadSink& sink) override;
  const LoadSpec& spec() const { return spec_; }

 private:
  LoadSpec spec_;
  std::vector<curl_slist*> header_lists_;  // one per request
};

}  // namespace rebound
