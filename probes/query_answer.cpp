#include "probes/query_answer.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <vector>

namespace rebound {

namespace {

// A string member, or "" when it is missing or not a string (an answer is data, not a promise).
std::string text_of(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return "";
  return object[key].get<std::string>();
}

struct SeriesValue {
  std::string labels;  // {job="api",code="500"}, "" without labels
  double value = 0;
  bool holds = false;
};

// name{label="value",...} as PromQL writes a series (Prometheus gives the name as the label __name__).
std::string label_text(const nlohmann::json& metric) {
  if (!metric.is_object() || metric.empty()) return "";
  std::string name;
  std::vector<std::string> parts;
  for (const auto& [k, v] : metric.items()) {
    std::string value = v.is_string() ? v.get<std::string>() : v.dump();
    if (k == "__name__") name = value;
    else parts.push_back(fmt::format("{}={}", k, nlohmann::json(value).dump()));
  }
  return parts.empty() ? name : fmt::format("{}{{{}}}", name, fmt::join(parts, ","));
}

std::string shown(const SeriesValue& s) {
  return s.labels.empty() ? format_value(s.value) : fmt::format("{} {}", s.labels, format_value(s.value));
}

// "a, b, c and 4 more"; with mark_failing, each series that does not hold says so.
std::string list(const std::vector<const SeriesValue*>& series, size_t cap, bool mark_failing = false) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < series.size() && i < cap; ++i)
    parts.push_back(shown(*series[i]) + (mark_failing && !series[i]->holds ? " (fails)" : ""));
  std::string more = series.size() > cap ? fmt::format(" and {} more", series.size() - cap) : "";
  return fmt::format("{}{}", fmt::join(parts, ", "), more);
}

// [timestamp, "value"] -> the value, or why not.
Result<double> sample_value(const nlohmann::json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string())
    return fail("a value that is not [time, \"number\"]");
  auto v = parse_prometheus_number(pair[1].get<std::string>());
  if (!v) return fail(fmt::format("a value that is not a number: {}", pair[1].dump().substr(0, 40)));
  return *v;
}

Result<std::vector<SeriesValue>> series_of(const nlohmann::json& data) {
  const std::string type = text_of(data, "resultType");
  const nlohmann::json result = data.is_object() && data.contains("result") ? data["result"] : nlohmann::json();
  std::vector<SeriesValue> out;
  if (type == "scalar") {
    auto v = sample_value(result);
    if (!v) return v.error();
    out.push_back({"", *v, false});
  } else if (type == "vector" && result.is_array()) {
    for (const auto& s : result) {
      if (!s.is_object() || !s.contains("value")) return fail("a series without a value");
      auto v = sample_value(s["value"]);
      if (!v) return v.error();
      out.push_back({label_text(s.contains("metric") ? s["metric"] : nlohmann::json()), *v, false});
    }
  } else if (type == "matrix") {
    return fail("the query returned a range vector; an instant value is needed: drop the [range] or wrap it in "
                "a function such as rate()");
  } else {
    return fail(fmt::format("the query returned a {}, not a number", type.empty() ? "result without a type" : type));
  }
  return out;
}

SampleResult verdict(std::vector<SeriesValue>& series, const Expectation& expect, SeriesMode mode) {
  std::vector<const SeriesValue*> holding, failing, all;
  for (auto& s : series) {
    s.holds = expect.holds(s.value);
    (s.holds ? holding : failing).push_back(&s);
    all.push_back(&s);
  }
  SampleResult r;
  r.ok = mode == SeriesMode::Any ? !holding.empty() : failing.empty();
  const std::string want = expect.text();
  if (series.size() == 1) {
    const auto& s = series[0];
    if (std::isnan(s.value))
      r.reason = fmt::format("{} is NaN, expected {}", s.labels.empty() ? "the value" : s.labels, want);
    else
      r.reason = s.holds ? fmt::format("{} {}", shown(s), want) : fmt::format("{}, expected {}", shown(s), want);
    return r;
  }
  const size_t n = series.size();
  if (mode == SeriesMode::Each) {
    r.reason = fmt::format("{} of {} series {}: {}", holding.size(), n, want, list(all, 10, true));
  } else if (mode == SeriesMode::Any) {
    r.reason = r.ok ? fmt::format("{} of {} series {}: {}", holding.size(), n, want, list(holding, 5))
                    : fmt::format("none of {} series {}: {}", n, want, list(failing, 5));
  } else if (r.ok) {
    auto [lo, hi] = std::minmax_element(series.begin(), series.end(),
                                        [](const SeriesValue& a, const SeriesValue& b) { return a.value < b.value; });
    r.reason = fmt::format("{} series, all {} (from {} to {})", n, want, format_value(lo->value),
                           format_value(hi->value));
  } else {
    r.reason = fmt::format("{} of {} series fail {}: {}", failing.size(), n, want, list(failing, 5));
  }
  return r;
}

}  // namespace

SampleResult judge_query_answer(std::string_view body, long status, const Expectation& expect, SeriesMode mode) {
  SampleResult r;
  auto answer = nlohmann::json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    r.reason = status >= 200 && status < 300 ? "the answer is not Prometheus API JSON"
                                             : fmt::format("status {} (not the Prometheus API?)", status);
    return r;
  }
  if (text_of(answer, "status") != "success") {
    const std::string type = text_of(answer, "errorType"), error = text_of(answer, "error");
    r.reason = fmt::format("the query failed: {}: {}", type.empty() ? "error" : type,
                           error.empty() ? fmt::format("status {}", status) : error);
    return r;
  }
  auto series = series_of(answer.contains("data") ? answer["data"] : nlohmann::json());
  if (!series) {
    r.reason = series.error().message;
    return r;
  }
  if (series->empty()) {
    r.reason = "the query returned no series";
    return r;
  }
  return verdict(*series, expect, mode);
}

}  // namespace rebound
