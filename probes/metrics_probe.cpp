#include "probes/metrics_probe.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <thread>

namespace rebound {

namespace {
double steady_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool valid_metric_name(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
  return true;
}

// The probe's labels matched against a sample's: equal values, and "" for a label the sample lacks (as in PromQL).
bool labels_match(const MetricSample& s, const std::vector<MetricLabel>& wanted) {
  for (const auto& w : wanted) {
    const std::string* have = s.label(w.name);
    if ((have ? *have : std::string()) != w.value) return false;
  }
  return true;
}

// Up to three label sets, for a reason that shows what the page has.
std::string some_series(const std::vector<const MetricSample*>& series) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < series.size() && i < 3; ++i)
    shown.push_back(series[i]->labels.empty() ? "{}" : series[i]->labels_text());
  std::string more = series.size() > 3 ? fmt::format(" and {} more", series.size() - 3) : "";
  return fmt::format("{}{}", fmt::join(shown, ", "), more);
}
}  // namespace

std::vector<ParamDoc> MetricsProbe::params() {
  return {
      {"url", "string", "", "the metrics endpoint (http or https), e.g. http://127.0.0.1:8080/metrics"},
      {"metric", "string", "", "the series' metric name, e.g. http_requests_total"},
      {"labels", "table", "{}", "labels the series must have, name = \"value\" (\"\": the label is absent)"},
      {"expect", "string", "", "what the value (or rate) must be: an operator (< <= > >= == !=) and a number"},
      {"rate", "duration", "none", "judge the counter's per-second rate over this span of samples instead"},
  };
}

std::unique_ptr<Probe> MetricsProbe::parse(TableReader& reader, const ProbeFactoryContext& context) {
  auto probe = std::make_unique<MetricsProbe>();
  probe->timeout_ = context.timeout;
  bool ok = true;
  if (auto url = read_http_url(reader, context.vars)) probe->url_ = std::move(*url);
  else ok = false;
  if (auto name = reader.string("metric", true)) {
    probe->name_ = *name;
    if (!valid_metric_name(*name)) {
      reader.error("metric", fmt::format("'{}' is not a metric name: letters, digits, '_' and ':', not starting with "
                                       "a digit",
                                       *name));
      ok = false;
    }
  } else {
    ok = false;
  }
  if (const toml::table* labels = reader.table("labels")) {
    for (const auto& [k, v] : *labels) {
      if (!v.is_string()) {
        reader.error("labels", fmt::format("label {} must be a string, such as {} = \"500\"", k.str(), k.str()));
        ok = false;
      } else {
        probe->labels_.push_back({std::string(k.str()), *v.value<std::string>()});
      }
    }
  }
  if (auto e = read_expectation(reader)) probe->expect_ = *e;
  else ok = false;
  if (auto rate = reader.duration("rate")) {
    if (rate->count() <= 0) {
      reader.error("rate", "a rate needs a span longer than 0, such as \"5s\"");
      ok = false;
    }
    probe->rate_ = *rate;
    probe->rates_.emplace(*rate);
  } else if (reader.has("rate")) {
    ok = false;
  }
  if (!ok) return nullptr;
  return probe;
}

std::string MetricsProbe::wanted() const {
  MetricSample s;
  s.labels = labels_;
  return name_ + s.labels_text();
}

Result<double> MetricsProbe::pick(const MetricsPage& page) const {
  std::vector<const MetricSample*> named, matching;
  for (const auto& s : page.samples) {
    named.push_back(&s);
    if (labels_match(s, labels_)) matching.push_back(&s);
  }
  if (matching.size() == 1) return matching[0]->value;
  if (matching.size() > 1)
    return fail(fmt::format("{} series match {}: {}; add labels to pick one", matching.size(), wanted(),
                            some_series(matching)));
  if (named.empty())
    return fail(fmt::format("no series named {} on the page ({} other samples)", name_, page.total_samples));
  return fail(fmt::format("no series {} on the page; {} has {}", wanted(), name_, some_series(named)));
}

Result<MetricsProbe::Reading> MetricsProbe::read(Millis timeout) {
  HttpRequest request{"GET",
                      url_,
                      {"Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"},
                      "",
                      timeout,
                      kMaxPage};
  HttpReply reply = client_.perform(request);
  const double arrived = steady_ms();
  if (!reply.error.empty()) return fail(reply.error);
  if (reply.status < 200 || reply.status >= 300) return fail(fmt::format("status {}", reply.status));
  if (reply.truncated) return fail(fmt::format("the page is larger than {} MiB", kMaxPage >> 20));
  auto page = parse_metrics_text(reply.body, [this](std::string_view n) { return n == name_; });
  if (!page) return fail(fmt::format("cannot read the page: {}", page.error().message));
  auto value = pick(*page);
  if (!value) return value.error();
  if (std::isnan(*value)) return fail(fmt::format("{} is NaN", wanted()));
  return Reading{arrived, *value};
}

SampleResult MetricsProbe::sample() {
  const double started = steady_ms();
  SampleResult r;
  auto reading = read(timeout_);
  r.latency_ms = steady_ms() - started;
  if (!reading) {
    r.reason = reading.error().message;
    return r;
  }
  if (rate_) return judge_rate(std::move(r), *reading, started);
  r.ok = expect_.holds(reading->value);
  r.reason = r.ok ? fmt::format("{} {}", format_value(reading->value), expect_.text())
                  : fmt::format("{}, expected {}", format_value(reading->value), expect_.text());
  return r;
}

// With `rate`: the first sample reads the counter twice within its own timeout, so that even the baseline's first
// sample has a rate (over a shorter span, which its reason says).
SampleResult MetricsProbe::judge_rate(SampleResult r, const Reading& reading, double started_ms) {
  auto rate = rates_->add(reading.t_ms, reading.value);
  std::string first;
  if (!rate) {
    const double left = timeout_.count() - (steady_ms() - started_ms);
    const double gap = std::min(rate_->count(), left / 2);
    if (gap < 10) {
      r.reason = fmt::format("no rate yet: the first scrape ({}) took most of the {} timeout; the next sample has "
                             "one",
                             format_value(reading.value), format_duration(timeout_));
      return r;
    }
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(gap));
    const double second_started = steady_ms();
    auto second = read(Millis(left - gap));
    // The sample's latency is its slower scrape: the deliberate wait between them is no slowness of the service.
    r.latency_ms = std::max(r.latency_ms, steady_ms() - second_started);
    if (!second) {
      r.reason = fmt::format("no rate yet: the second scrape failed: {}", second.error().message);
      return r;
    }
    rate = rates_->add(second->t_ms, second->value);
    first = ", the first sample's two scrapes";
  }
  const std::string value = fmt::format("rate {}/s", format_value(rate->per_second));
  const Millis span_shown(std::round(rate->span_ms / 10) * 10);
  const std::string span = fmt::format(" (over {}{}{})", format_duration(span_shown), first,
                                       rate->reset ? ", counter reset" : "");
  r.ok = expect_.holds(rate->per_second);
  r.reason = r.ok ? fmt::format("{} {}{}", value, expect_.text(), span)
                  : fmt::format("{}, expected {}{}", value, expect_.text(), span);
  return r;
}

nlohmann::json MetricsProbe::describe() const {
  nlohmann::json j{{"url", url_}, {"metric", name_}, {"expect", expect_.text()}, {"timeout_ms", timeout_.count()}};
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& l : labels_) labels[l.name] = l.value;
  j["labels"] = labels;
  if (rate_) j["rate_ms"] = rate_->count();
  return j;
}

}  // namespace rebound
