#pragma once
// One blocking HTTP request at a time on a kept libcurl handle (its connection is reused between samples).
// Shared by the probes that make a request per sample: http, metrics, prometheus.
#include <curl/curl.h>
#include <optional>
#include <string>
#include <vector>

#include "config/duration.hpp"
#include "config/table_reader.hpp"
#include "config/variables.hpp"

namespace rebound {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers{};  // "Name: value"
  std::string body{};
  Millis timeout{1000};
  size_t max_body = 1 << 20;  // bytes kept of the answer; a probe reads, it does not download
};

struct HttpReply {
  std::string error{};  // libcurl's text when the transfer failed ("Couldn't connect to server"), else ""
  long status = 0;
  std::string body{};
  bool truncated = false;  // the body was longer than max_body
  double latency_ms = 0;
};

class HttpClient {
 public:
  HttpClient() = default;
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpReply perform(const HttpRequest& request);

 private:
  CURL* curl_ = nullptr;
  curl_slist* header_list_ = nullptr;
  std::vector<std::string> listed_headers_;  // what header_list_ holds
};

// The `url` key of a probe that makes HTTP requests: required, variables expanded, http:// or https://.
std::optional<std::string> read_http_url(TableReader& reader, const Variables& vars);

}  // namespace rebound
