#include "probes/http_client.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <mutex>

#include "config/command_spec.hpp"

namespace rebound {

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
  if (header_list_) curl_slist_free_all(header_list_);
}

namespace {
struct BodySink {
  std::string* body;
  size_t max;
  bool truncated = false;
};

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * count;
  const size_t room = sink->max > sink->body->size() ? sink->max - sink->body->size() : 0;
  sink->body->append(data, std::min(n, room));
  if (n > room) sink->truncated = true;
  return n;
}
}  // namespace

HttpReply HttpClient::perform(const HttpRequest& request) {
  static std::once_flag curl_global;
  std::call_once(curl_global, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (!curl_) curl_ = curl_easy_init();
  if (request.headers != listed_headers_) {
    if (header_list_) curl_slist_free_all(header_list_);
    header_list_ = nullptr;
    for (const auto& h : request.headers) header_list_ = curl_slist_append(header_list_, h.c_str());
    listed_headers_ = request.headers;
  }
  HttpReply reply;
  BodySink sink{&reply.body, request.max_body};
  curl_easy_reset(curl_);  // keeps the connection, clears the options
  curl_easy_setopt(curl_, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
  if (!request.body.empty()) curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, request.body.c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, header_list_);
  // At least 1 ms: 0 would mean no timeout at all.
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, std::max(1L, static_cast<long>(request.timeout.count())));
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
  CURLcode rc = curl_easy_perform(curl_);
  curl_off_t total_us = 0;
  curl_easy_getinfo(curl_, CURLINFO_TOTAL_TIME_T, &total_us);
  reply.latency_ms = static_cast<double>(total_us) / 1000.0;
  reply.truncated = sink.truncated;
  if (rc != CURLE_OK) {
    reply.error = curl_easy_strerror(rc);
    return reply;
  }
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

std::optional<std::string> read_http_url(TableReader& reader, const Variables& vars) {
  auto url = reader.string("url", true);
  if (!url) return std::nullopt;
  auto expanded = expand_value(reader, "url", *url, vars);
  if (!expanded) return std::nullopt;
  if (!expanded->starts_with("http://") && !expanded->starts_with("https://")) {
    reader.error("url", fmt::format("'{}' is not an http:// or https:// URL", *expanded));
    return std::nullopt;
  }
  return expanded;
}

}  // namespace rebound
