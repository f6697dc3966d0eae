#include "injectors/network/http/http_rules.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace rebound {

namespace {

std::optional<UserRegex> read_regex(TableReader& reader, const std::string& key, bool& ok) {
  auto text = reader.string(key);
  if (!text) return std::nullopt;
  auto re = UserRegex::compile(*text);
  if (!re) {
    reader.error(key, re.error().message);
    ok = false;
    return std::nullopt;
  }
  return *re;
}

void read_match(TableReader& reader, HttpRule& rule, bool& ok) {
  if (auto method = reader.string("method")) {
    rule.method = *method;
    std::transform(rule.method.begin(), rule.method.end(), rule.method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    rule.parameters["method"] = rule.method;
  }
  rule.path = read_regex(reader, "path", ok);
  if (rule.path) rule.parameters["path"] = rule.path->pattern();
  rule.host = read_regex(reader, "host", ok);
  if (rule.host) rule.parameters["host"] = rule.host->pattern();
  if (const toml::table* headers = reader.table("headers")) {
    for (const auto& [name, value] : *headers) {
      auto text = value.value<std::string>();
      auto re = text ? UserRegex::compile(*text) : Result<UserRegex>(fail("not a string"));
      if (!re) {
        reader.error("headers", fmt::format("header '{}': {}", name.str(),
                                            text ? re.error().message
                                                 : "expected a regular expression as a string, e.g. \"^beta\""));
        ok = false;
        continue;
      }
      rule.headers.emplace_back(std::string(name.str()), *re);
      rule.parameters["headers"][std::string(name.str())] = *text;
    }
  }
  if (auto p = reader.number("probability")) {
    if (*p < 0 || *p > 1) {
      reader.error("probability", fmt::format("{} is not a probability: use a number from 0 to 1 (0.3 for 30%)", *p));
      ok = false;
    }
    rule.probability = *p;
    rule.parameters["probability"] = *p;
  }
}

void read_status(TableReader& reader, HttpRule& rule, bool required, bool& ok) {
  auto status = reader.integer("status", required);
  if (!status) {
    ok = ok && !required;
    return;
  }
  if (*status < 200 || *status > 599) {
    reader.error("status", fmt::format("{} is not a final HTTP status: use 200 to 599 (e.g. 503)", *status));
    ok = false;
    return;
  }
  rule.status = static_cast<int>(*status);
  rule.parameters["status"] = rule.status;
}

void read_delay(TableReader& reader, HttpRule& rule, bool& ok) {
  auto delay = reader.duration("delay", true);
  if (!delay) {
    ok = false;
  } else if (delay->count() <= 0 || *delay > Millis(3'600'000)) {
    reader.error("delay", "use a duration above 0 and up to 1h, e.g. \"200ms\"");
    ok = false;
  } else {
    rule.delay_us = static_cast<int64_t>(delay->count() * 1000);
    rule.parameters["delay_ms"] = delay->count();
  }
  auto phase = reader.string("phase");
  if (phase && *phase != "request" && *phase != "response") {
    reader.error("phase", fmt::format("unknown phase '{}': use \"request\" (before the request is forwarded) or "
                                      "\"response\" (before the response is returned)",
                                      *phase));
    ok = false;
  }
  rule.delay_response = phase && *phase == "response";
  rule.parameters["phase"] = rule.delay_response ? "response" : "request";
}

void read_set_headers(TableReader& reader, HttpRule& rule, bool& ok) {
  const toml::table* set = reader.table("set_headers");
  if (!set) return;
  for (const auto& [name, value] : *set) {
    auto text = value.value<std::string>();
    if (!text) {
      reader.error("set_headers", fmt::format("header '{}': expected a string value", name.str()));
      ok = false;
      continue;
    }
    rule.set_headers.emplace_back(std::string(name.str()), *text);
    rule.parameters["set_headers"][std::string(name.str())] = *text;
  }
}

// The keys of the rule's action; keys of another action are reported as such, not as unknown.
void read_action(TableReader& reader, HttpRule& rule, bool& ok) {
  auto action = reader.string("action", true);
  if (!action) {
    ok = false;
    return;
  }
  auto it = std::find(std::begin(kHttpActionNames), std::end(kHttpActionNames), *action);
  if (it == std::end(kHttpActionNames)) {
    reader.error("action", fmt::format("unknown action '{}': use abort, reset, delay or replace", *action));
    ok = false;
    return;
  }
  rule.action = static_cast<HttpAction>(it - std::begin(kHttpActionNames));
  rule.parameters["action"] = *action;
  auto refuse = [&](const char* key) {
    if (!reader.has(key)) return;
    reader.node(key);
    reader.error(key, fmt::format("action \"{}\" takes no {}", *action, key));
    ok = false;
  };
  switch (rule.action) {
    case HttpAction::abort:
      read_status(reader, rule, true, ok);
      rule.body = reader.string("body");
      for (const char* key : {"delay", "phase", "set_headers"}) refuse(key);
      break;
    case HttpAction::reset:
      for (const char* key : {"status", "body", "delay", "phase", "set_headers"}) refuse(key);
      break;
    case HttpAction::delay: {
      read_delay(reader, rule, ok);
      for (const char* key : {"status", "body", "set_headers"}) refuse(key);
      break;
    }
    case HttpAction::replace:
      read_status(reader, rule, false, ok);
      rule.body = reader.string("body");
      read_set_headers(reader, rule, ok);
      if (rule.status == 0 && !rule.body && rule.set_headers.empty() && ok) {
        reader.error("action", "replace needs something to replace: status, body or set_headers");
        ok = false;
      }
      for (const char* key : {"delay", "phase"}) refuse(key);
      break;
  }
  if (rule.body) rule.parameters["body_bytes"] = rule.body->size();
}

bool parse_rule(TableReader& reader, HttpRule& rule) {
  bool ok = true;
  read_match(reader, rule, ok);
  read_action(reader, rule, ok);
  return ok;
}

}  // namespace

bool HttpRule::matches(const HttpHead& request) const {
  if (!method.empty() && request.method != method) return false;
  if (path) {
    std::string_view target = request.target;
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (!path->search(target)) return false;
  }
  if (host) {
    const std::string* value = request.field("host");
    if (!value || !host->search(*value)) return false;
  }
  for (const auto& [name, re] : headers) {
    const std::string* value = request.field(name);
    if (!value || !re.search(*value)) return false;
  }
  return true;
}

bool parse_http_rules(TableReader& reader, std::vector<HttpRule>& rules) {
  if (!reader.has("rules")) {
    HttpRule rule;
    if (!parse_rule(reader, rule)) return false;
    rules.push_back(std::move(rule));
    return true;
  }
  if (reader.has("action")) {
    reader.error("action", "give either one rule (action = \"...\" with its keys) or a list (rules = [...]), not both");
    reader.string("action");
    reader.array("rules");  // read, so that it is not reported as unknown too
    return false;
  }
  const toml::array* list = reader.array("rules");
  if (!list) return false;
  if (list->empty()) {
    reader.error("rules", "the list is empty: add at least one { action = \"...\" }");
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table* item = list->get(i)->as_table();
    if (!item) {
      reader.error("rules", fmt::format("item {} is {}, not a table such as {{ path = \"^/api/\", action = \"abort\", "
                                        "status = 503 }}",
                                        i + 1, describe_node(*list->get(i))));
      ok = false;
      continue;
    }
    TableReader sub(*item, fmt::format("{}[{}]", reader.key_path("rules"), i), reader.diagnostics());
    HttpRule rule;
    if (parse_rule(sub, rule)) rules.push_back(std::move(rule));
    else ok = false;
    sub.finish();
  }
  return ok;
}

std::vector<ParamDoc> http_rule_params() {
  return {
      {"method", "string", "any", "the request's method, e.g. \"GET\""},
      {"path", "string (RE2 regex)", "any", "matches the request's path (without the query), e.g. \"^/api/\""},
      {"host", "string (RE2 regex)", "any", "matches the Host header"},
      {"headers", "table", "none", "request fields that must be present and match: { \"x-user\" = \"^beta\" }"},
      {"probability", "number", "1.0", "share of the matching requests the action is taken on"},
      {"action", "string", "", "abort, reset, delay or replace"},
      {"status", "integer", "abort: required", "abort: the response's status (200-599); replace: the new status"},
      {"body", "string", "empty", "abort: the response's body; replace: the new body (sent with Content-Length)"},
      {"delay", "duration", "delay: required", "delay: how long, e.g. \"200ms\""},
      {"phase", "string", "\"request\"", "delay: \"request\" (before forwarding it) or \"response\" (before returning it)"},
      {"set_headers", "table", "none", "replace: response fields set, e.g. { \"content-type\" = \"text/plain\" }"},
  };
}

}  // namespace rebound
