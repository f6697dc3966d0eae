#include "probes/load_probe.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <mutex>

namespace rebound {

namespace {
constexpr double kMaxRate = 100000;  // per second: beyond what one event loop sends on schedule
constexpr long kMaxInFlight = 100000;
constexpr long kMaxPool = 10000;

void curl_global() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A request's own keys: method, headers, body (the url is read by the caller).
bool parse_request_keys(TableReader& r, LoadRequest& req) {
  bool ok = true;
  if (auto m = r.string("method")) req.method = *m;
  if (const toml::table* headers = r.table("headers")) {
    for (const auto& [k, v] : *headers) {
      if (!v.is_string()) {
        r.error("headers", fmt::format("header {} must be a string", k.str()));
        ok = false;
      } else {
        req.headers.push_back(fmt::format("{}: {}", k.str(), *v.value<std::string>()));
      }
    }
  }
  req.body = r.string("body").value_or("");
  return ok;
}

// url = "http://...", "https://..." or "tcp://host:port".
bool parse_url(TableReader& r, const ProbeFactoryContext& context, LoadRequest& req, bool& tcp) {
  auto url = r.string("url", true);
  if (!url) return false;
  auto expanded = expand_value(r, "url", *url, context.vars);
  if (!expanded) return false;
  req.url = *expanded;
  if (req.url.starts_with("tcp://")) {
    tcp = true;
    req.url = "http://" + req.url.substr(6);  // curl connects only (CURLOPT_CONNECT_ONLY)
    return true;
  }
  if (!req.url.starts_with("http://") && !req.url.starts_with("https://")) {
    r.error("url", fmt::format("'{}' is not an http://, https:// or tcp:// URL", req.url));
    return false;
  }
  return true;
}

bool parse_requests(TableReader& r, const ProbeFactoryContext& context, LoadSpec& spec) {
  const toml::array* list = r.array("requests");
  if (!list) return false;
  if (list->empty()) {
    r.error("requests", "requests is empty: give at least one request (url, and method, headers, body, weight)");
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table* t = list->get(i)->as_table();
    if (!t) {
      r.error("requests", fmt::format("requests[{}] must be a table such as {{ url = \"http://...\", weight = 1 }}", i));
      ok = false;
      continue;
    }
    TableReader sub(*t, fmt::format("{}[{}]", r.key_path("requests"), i), r.diagnostics());
    LoadRequest req;
    bool tcp = false;
    ok = parse_url(sub, context, req, tcp) && ok;
    if (tcp) {
      sub.error("url", "a tcp:// URL goes in the probe's url, not in a list of HTTP requests");
      ok = false;
    }
    ok = parse_request_keys(sub, req) && ok;
    if (auto w = sub.number("weight")) {
      if (!(*w > 0) || !std::isfinite(*w)) {
        sub.error("weight", fmt::format("a weight must be more than 0, not {}", *w));
        ok = false;
      }
      req.weight = *w;
    }
    sub.finish();
    spec.requests.push_back(std::move(req));
  }
  return ok;
}

bool parse_expectations(TableReader& r, LoadSpec& spec) {
  bool ok = true;
  if (auto codes = r.integers("expect_status")) {
    for (auto c : *codes)
      if (c < 100 || c > 599) {
        r.error("expect_status", fmt::format("{} is not an HTTP status code (100-599)", c));
        ok = false;
      }
    spec.expect_status = *codes;
  }
  if (auto pattern = r.string("expect_body")) {
    if (auto re = UserRegex::compile(*pattern)) {
      spec.body_pattern.emplace(std::move(*re));
    } else {
      r.error("expect_body", re.error().message);
      ok = false;
    }
  }
  spec.max_latency = r.duration("max_latency");
  if (spec.tcp)
    for (const char* key : {"expect_status", "expect_body"})
      if (r.has(key)) {
        r.error(key, fmt::format("{} is for HTTP requests: a tcp:// load probe only connects", key));
        ok = false;
      }
  return ok;
}

// An integer key within [1, max].
bool parse_bounded(TableReader& r, const char* key, long max, long& out) {
  auto v = r.integer(key);
  if (!v) return true;
  if (*v < 1 || *v > max) {
    r.error(key, fmt::format("{} must be between 1 and {}, not {}", key, max, *v));
    return false;
  }
  out = static_cast<long>(*v);
  return true;
}

bool parse_connections(TableReader& r, LoadSpec& spec) {
  bool ok = parse_bounded(r, "max_in_flight", kMaxInFlight, spec.max_in_flight);
  ok = parse_bounded(r, "pool_size", kMaxPool, spec.pool_size) && ok;
  if (auto c = r.string("connections")) {
    if (*c == "new") {
      spec.reuse = false;
    } else if (*c != "reuse") {
      r.error("connections", fmt::format("connections must be \"reuse\" (a keep-alive pool of pool_size) or \"new\" "
                                         "(a connection per request), not '{}'",
                                         *c));
      ok = false;
    }
  }
  return ok;
}

// "500/s" as requests per second; nullopt after recording the problem.
std::optional<double> parse_rate(TableReader& r, const std::string& text) {
  const auto slash = text.find('/');
  const std::string number = text.substr(0, slash);
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (slash == std::string::npos || text.substr(slash) != "/s" || ec != std::errc() ||
      end != number.data() + number.size() || !std::isfinite(value)) {
    r.error("rate", fmt::format("'{}' is not a rate: write requests per second as \"500/s\"", text));
    return std::nullopt;
  }
  if (!(value > 0)) {
    r.error("rate", fmt::format("a rate must be more than 0/s, not \"{}\"", text));
    return std::nullopt;
  }
  if (value > kMaxRate) {
    r.error("rate", fmt::format("\"{}\" is more than a load probe sends on schedule (at most {}/s)", text,
                                static_cast<long>(kMaxRate)));
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::vector<ParamDoc> LoadProbe::params() {
  return {
      {"rate", "string", "", "arrival rate, requests per second: \"500/s\" (at most 100000/s)"},
      {"url", "string", "url or requests", "http(s):// URL to request, or tcp://host:port to connect to (or give requests)"},
      {"requests", "array of tables", "url or requests", "weighted requests: { url, method, headers, body, weight }"},
      {"method", "string", "GET", "HTTP method (with url)"},
      {"headers", "table", "{}", "request headers, name = value (with url)"},
      {"body", "string", "\"\"", "request body (with url)"},
      {"connections", "string", "reuse", "\"reuse\": a keep-alive pool of pool_size; \"new\": one per request"},
      {"pool_size", "integer", "32", "connections kept alive with connections = \"reuse\""},
      {"max_in_flight", "integer", "1000", "requests waiting for an answer; one more due is a failed request"},
      {"expect_status", "integer array", "any 2xx/3xx", "acceptable status codes"},
      {"expect_body", "string (RE2 regex)", "none", "the body must contain a match"},
      {"max_latency", "duration", "none", "a slower answer (from the scheduled start) counts as a failure"},
  };
}

std::unique_ptr<Probe> LoadProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<LoadProbe>();
  LoadSpec& spec = probe->spec_;
  spec.timeout = context.timeout;
  bool ok = true;
  if (auto rate = reader.string("rate", true)) {
    auto parsed = parse_rate(reader, *rate);
    ok = parsed.has_value();
    spec.rate_per_s = parsed.value_or(0);
  } else {
    ok = false;
  }
  const bool has_url = reader.has("url"), has_list = reader.has("requests");
  if (has_url && has_list) {
    reader.error("requests", "a load probe takes url or requests (a weighted list), not both");
    reader.node("url");  // known keys, not also "unknown"
    reader.node("requests");
    ok = false;
  } else if (has_list) {
    ok = parse_requests(reader, context, spec) && ok;
  } else {
    LoadRequest req;
    ok = parse_url(reader, context, req, spec.tcp) && ok;
    ok = parse_request_keys(reader, req) && ok;
    spec.requests.push_back(std::move(req));
  }
  ok = parse_connections(reader, spec) && ok;
  ok = parse_expectations(reader, spec) && ok;
  if (!ok) return nullptr;
  for (const auto& r : spec.requests) {
    curl_slist* list = nullptr;
    for (const auto& h : r.headers) list = curl_slist_append(list, h.c_str());
    probe->header_lists_.push_back(list);
  }
  return probe;
}

LoadProbe::~LoadProbe() {
  for (auto* l : header_lists_) curl_slist_free_all(l);
}

size_t LoadSpec::pick(uint64_t n) const {
  if (requests.size() == 1) return 0;
  double total = 0;
  for (const auto& r : requests) total += r.weight;
  // The golden-ratio sequence spreads any run of picks evenly over [0, total).
  double x = std::fmod(static_cast<double>(n) * 0.6180339887498949, 1.0) * total;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (x < requests[i].weight) return i;
    x -= requests[i].weight;
  }
  return requests.size() - 1;
}

static size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body && body->size() < 1 << 20) body->append(data, size * count);  // bounded: a probe reads, not downloads
  return size * count;
}

void LoadSpec::configure(CURL* easy, const LoadRequest& r, curl_slist* headers, std::string* body) const {
  curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  if (tcp) {
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
    return;
  }
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  curl_easy_setopt(easy, CURLOPT_NOBODY, r.method == "HEAD" ? 1L : 0L);
  if (!r.body.empty()) curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, body_pattern ? body : nullptr);
  if (!reuse) {
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  }
}

std::string LoadSpec::judge(CURL* easy, CURLcode rc, const std::string& body, double latency_ms) const {
  if (rc != CURLE_OK) return curl_easy_strerror(rc);
  long status = 0;
  if (!tcp) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    bool status_ok = expect_status.empty()
                         ? (status >= 200 && status < 400)
                         : std::find(expect_status.begin(), expect_status.end(), status) != expect_status.end();
    if (!status_ok)
      return expect_status.empty() ? fmt::format("status {}", status)
                                   : fmt::format("status {} not in [{}]", status, fmt::join(expect_status, ", "));
    if (body_pattern && !body_pattern->search(body))
      return fmt::format("status {}, body does not match /{}/", status, body_pattern->pattern());
  }
  if (max_latency && latency_ms > static_cast<double>(max_latency->count()))
    return fmt::format("slow: {:.1f}ms > {} from the scheduled start", latency_ms, format_duration(*max_latency));
  return "";
}

SampleResult LoadProbe::sample() {
  curl_global();
  CURL* easy = curl_easy_init();
  std::string body;
  spec_.configure(easy, spec_.requests[0], header_lists_[0], &body);
  CURLcode rc = curl_easy_perform(easy);
  curl_off_t total_us = 0;
  curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
  SampleResult r;
  r.latency_ms = static_cast<double>(total_us) / 1000.0;
  r.reason = spec_.judge(easy, rc, body, r.latency_ms);
  r.ok = r.reason.empty();
  if (r.ok) r.reason = spec_.tcp ? "connected" : "ok";
  curl_easy_cleanup(easy);
  return r;
}

nlohmann::json LoadProbe::describe() const {
  nlohmann::json requests = nlohmann::json::array();
  for (const auto& r : spec_.requests)
    requests.push_back({{"method", spec_.tcp ? "CONNECT" : r.method}, {"url", r.url}, {"weight", r.weight}});
  nlohmann::json j{{"rate_per_s", spec_.rate_per_s},       {"requests", requests},
                   {"connections", spec_.reuse ? "reuse" : "new"}, {"pool_size", spec_.pool_size},
                   {"max_in_flight", spec_.max_in_flight}, {"timeout_ms", spec_.timeout.count()},
                   {"tcp", spec_.tcp}};
  if (!spec_.expect_status.empty()) j["expect_status"] = spec_.expect_status;
  if (spec_.body_pattern) j["expect_body"] = spec_.body_pattern->pattern();
  if (spec_.max_latency) j["max_latency_ms"] = spec_.max_latency->count();
  return j;
}

}  // namespace rebound
