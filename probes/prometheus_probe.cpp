#include "probes/prometheus_probe.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace rebound {

namespace {
// application/x-www-form-urlencoded: unreserved characters as they are, every other byte as %XX.
std::string form_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out.push_back(static_cast<char>(c));
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

const char* mode_name(SeriesMode mode) {
  switch (mode) {
    case SeriesMode::All: return "all";
    case SeriesMode::Any: return "any";
    case SeriesMode::Each: return "each";
  }
  return "all";
}
}  // namespace

std::vector<ParamDoc> PrometheusProbe::params() {
  return {
      {"url", "string", "", "the Prometheus server (http or https), e.g. http://127.0.0.1:9090"},
      {"query", "string", "", "a PromQL instant query, e.g. sum(rate(http_requests_total{code=~\"5..\"}[1m]))"},
      {"expect", "string", "", "what each value must be: an operator (< <= > >= == !=) and a number"},
      {"series", "string", "\"all\"",
       "several series: \"all\" must hold, \"any\" one must hold, \"each\" as all and lists every series"},
  };
}

std::unique_ptr<Probe> PrometheusProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<PrometheusProbe>();
  probe->timeout_ = context.timeout;
  bool ok = true;
  if (auto url = read_http_url(reader, context.vars)) {
    probe->url_ = *url;
    std::string base = *url;
    while (base.ends_with("/")) base.pop_back();
    probe->endpoint_ = base.ends_with("/api/v1/query") ? base : base + "/api/v1/query";
  } else {
    ok = false;
  }
  if (auto query = reader.string("query", true)) {
    probe->query_ = *query;
    if (query->find_first_not_of(" \t\r\n") == std::string::npos) {
      reader.error("query", "the query is empty: write a PromQL expression, such as up{job=\"api\"}");
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto e = read_expectation(reader)) probe->expect_ = *e;
  else ok = false;
  if (auto mode = reader.string("series")) {
    if (*mode == "all") probe->mode_ = SeriesMode::All;
    else if (*mode == "any") probe->mode_ = SeriesMode::Any;
    else if (*mode == "each") probe->mode_ = SeriesMode::Each;
    else {
      reader.error("series", fmt::format("unknown series mode '{}' (all, any, each)", *mode));
      ok = false;
    }
  }
  if (!ok) return nullptr;
  // Prometheus stops evaluating at its own timeout too, so a heavy query does not outlive the sample.
  probe->form_ = fmt::format("query={}&timeout={}ms", form_encode(probe->query_),
                             std::max<int64_t>(1, static_cast<int64_t>(probe->timeout_.count())));
  return probe;
}

SampleResult PrometheusProbe::sample() {
  // POST: a long query does not meet a URL length limit.
  HttpRequest request{"POST", endpoint_, {"Content-Type: application/x-www-form-urlencoded"}, form_, timeout_,
                      kMaxAnswer};
  HttpReply reply = client_.perform(request);
  if (!reply.error.empty()) return SampleResult{false, reply.latency_ms, reply.error};
  if (reply.truncated)
    return SampleResult{false, reply.latency_ms, fmt::format("the answer is larger than {} MiB", kMaxAnswer >> 20)};
  SampleResult r = judge_query_answer(reply.body, reply.status, expect_, mode_);
  r.latency_ms = reply.latency_ms;
  return r;
}

nlohmann::json PrometheusProbe::describe() const {
  return nlohmann::json{{"url", url_},           {"query", query_},
                        {"expect", expect_.text()}, {"series", mode_name(mode_)},
                        {"timeout_ms", timeout_.count()}};
}

}  // namespace rebound
