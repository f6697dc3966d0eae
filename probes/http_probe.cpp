#include "probes/http_probe.hpp"

#include <fmt/format.h>
#include <mutex>

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
  if (auto url = reader.string("url", true)) {
    if (auto expanded = expand_value(reader, "url", *url, context.vars)) {
      probe->url_ = *expanded;
      if (!probe->url_.starts_with("http://") && !probe->url_.starts_with("https://")) {
        reader.error("url", fmt::format("'{}' is not an http:// or https:// URL", probe->url_));
        ok = false;
      }
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
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

HttpProbe::~HttpProbe() {
  if (curl_) curl_easy_cleanup(curl_);
  if (header_list_) curl_slist_free_all(header_list_);
}

static size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < 1 << 20) body->append(data, size * count);  // bounded: a probe reads, it does not download
  return size * count;
}

SampleResult HttpProbe::sample() {
  static std::once_flag curl_global;
  std::call_once(curl_global, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (!curl_) {
    curl_ = curl_easy_init();
    for (const auto& h : headers_) header_list_ = curl_slist_append(header_list_, h.c_str());
  }
  std::string body;
  curl_easy_reset(curl_);
  curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method_.c_str());
  if (method_ == "HEAD") curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
  if (!body_.empty()) curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body_.c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, header_list_);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(curl_);
  curl_off_t total_us = 0;
  curl_easy_getinfo(curl_, CURLINFO_TOTAL_TIME_T, &total_us);
  SampleResult r;
  r.latency_ms = static_cast<double>(total_us) / 1000.0;
  if (rc != CURLE_OK) {
    r.reason = curl_easy_strerror(rc);
    return r;
  }
  long status = 0;
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
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
