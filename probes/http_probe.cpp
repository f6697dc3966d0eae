#include "probes/http_probe.hpp"

#include <fmt/format.h>

namespace rebound {

std::vector<ParamDoc> HttpProbe::params() {
  return {
      {"url", "string", "", "URL to request (http or https)"},
      {"method", "string", "GET", "HTTP method"},
      {"headers", "table", "{}", "request headers, name = value"},
      {"body", "string", "\"\"", "request body"},
      {"expect_status", "integer array", "any 2xx/3xx", "acceptable status codes"},
      {"expect_body", "string (RE2 regex)", "none", "the body must contain a match"},
      {"max_latency", "duration", "none", "a slower answer counts as a failure"},
  };
}

std::unique_ptr<Probe> HttpProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<HttpProbe>();
  probe->timeout_ = context.timeout;
  bool ok = true;
  if (auto url = read_http_url(reader, context.vars)) probe->url_ = std::move(*url);
  else ok = false;
  if (auto m = reader.string("method")) probe->method_ = *m;
  if (const toml::table* headers = reader.table("headers")) {
    for (const auto& [k, v] : *headers) {
      if (!v.is_string()) {
        reader.error("headers", fmt::format("header {} must be a string", k.str()));
        ok = false;
      } else {
        probe->headers_.push_back(fmt::format("{}: {}", k.str(), *v.value<std::string>()));
      }
    }
  }
  probe->body_ = reader.string("body").value_or("");
  if (auto codes = reader.integers("expect_status")) {
    for (auto c : *codes)
      if (c < 100 || c > 599) {
        reader.error("expect_status", fmt::format("{} is not an HTTP status code (100-599)", c));
        ok = false;
      }
    probe->expect_status_ = *codes;
  }
  if (auto pattern = reader.string("expect_body")) {
    if (auto re = UserRegex::compile(*pattern)) {
      probe->body_pattern_.emplace(std::move(*re));
      probe->body_pattern_text_ = *pattern;
    } else {
      reader.error("expect_body", re.error().message);
      ok = false;
    }
  }
  probe->max_latency_ = reader.duration("max_latency");
  if (!ok) return nullptr;
  return probe;
}

SampleResult HttpProbe::sample() {
  HttpReply reply = client_.perform(HttpRequest{method_, url_, headers_, body_, timeout_, 1 << 20});
  SampleResult r;
  r.latency_ms = reply.latency_ms;
  if (!reply.error.empty()) {
    r.reason = std::move(reply.error);
    return r;
  }
  const long status = reply.status;
  const std::string& body = reply.body;
  bool status_ok = expect_status_.empty()
                       ? (status >= 200 && status < 400)
                       : std::find(expect_status_.begin(), expect_status_.end(), status) != expect_status_.end();
  if (!status_ok) {
    r.reason = expect_status_.empty() ? fmt::format("status {}", status)
                                      : fmt::format("status {} not in [{}]", status, fmt::join(expect_status_, ", "));
    return r;
  }
  if (body_pattern_ && !body_pattern_->search(body)) {
    r.reason = fmt::format("status {}, body does not match /{}/", status, body_pattern_text_);
    return r;
  }
  if (max_latency_ && r.latency_ms > max_latency_->count()) {
    r.reason = fmt::format("status {} but slow: {:.1f}ms > {}", status, r.latency_ms, format_duration(*max_latency_));
    return r;
  }
  r.ok = true;
  r.reason = fmt::format("status {}", status);
  return r;
}

nlohmann::json HttpProbe::describe() const {
  nlohmann::json j{{"url", url_}, {"method", method_}, {"timeout_ms", timeout_.count()}};
  if (!expect_status_.empty()) j["expect_status"] = expect_status_;
  if (body_pattern_) j["expect_body"] = body_pattern_text_;
  if (max_latency_) j["max_latency_ms"] = max_latency_->count();
  return j;
}

}  // namespace rebound
