#pragma once
// http.fault's rules: which requests a rule matches (method, path, host, headers) and what it does to them
// (abort, reset, delay, replace), with a probability per request. First match wins.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/table_reader.hpp"
#include "config/user_regex.hpp"
#include "injectors/network/http/http_framing.hpp"

namespace rebound {

enum class HttpAction { abort, reset, delay, replace };
inline constexpr const char* kHttpActionNames[] = {"abort", "reset", "delay", "replace"};
inline constexpr size_t kHttpActions = 4;

struct HttpRule {
  // Matching: every key given must match; none given matches every request.
  std::string method;                                    // exact, upper case
  std::optional<UserRegex> path;                         // the request target's path (without the query)
  std::optional<UserRegex> host;                         // the Host header
  std::vector<std::pair<std::string, UserRegex>> headers;  // a field of that name whose value matches
  double probability = 1.0;
  // What it does.
  HttpAction action = HttpAction::abort;
  int status = 0;         // abort: the synthetic response's; replace: 0 keeps the server's
  std::optional<std::string> body;  // abort: the synthetic body; replace: the new body
  std::vector<std::pair<std::string, std::string>> set_headers;  // replace: fields set (added or overwritten)
  int64_t delay_us = 0;
  bool delay_response = false;  // delay: before the response is returned (else before the request is forwarded)
  nlohmann::json parameters = nlohmann::json::object();  // as declared, for describe()

  bool matches(const HttpHead& request) const;
};

// `rules = [{...}, ...]`, or one rule's keys on the step itself; false after recording errors.
bool parse_http_rules(TableReader& reader, std::vector<HttpRule>& rules);
// The keys of one rule, for `rebound faults`.
std::vector<ParamDoc> http_rule_params();

}  // namespace rebound
