#include "probes/metrics_text.hpp"

#include <cmath>
#include <fmt/format.h>
#include <set>

#include "probes/expectation.hpp"

namespace rebound {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

const std::set<std::string_view> kTypes = {"counter", "gauge",    "histogram", "summary",       "untyped",
                                          "unknown", "info",     "stateset",  "gaugehistogram"};

// Reads one line left to right; every method returns false (with why_) at the first thing out of place.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : s_(line) {}

  std::string why() const { return why_; }
  bool at_end() const { return i_ == s_.size(); }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void skip_blanks() {
    while (i_ < s_.size() && is_blank(s_[i_])) ++i_;
  }
  std::string_view rest() const { return s_.substr(i_); }

  // A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label name (no ':').
  bool name(std::string& out, bool colons) {
    const size_t start = i_;
    auto ok = [&](char c, bool first) { return (first ? name_start(c) : name_char(c)) || (colons && c == ':'); };
    while (i_ < s_.size() && ok(s_[i_], i_ == start)) ++i_;
    if (i_ == start) return fail(colons ? "expected a metric name" : "expected a label name");
    out.assign(s_.substr(start, i_ - start));
    return true;
  }

  // {name="value",...} with the escapes \\ \" \n; a trailing comma is allowed.
  bool labels(std::vector<MetricLabel>& out, size_t max_labels) {
    ++i_;  // '{'
    for (;;) {
      skip_blanks();
      if (peek('}')) break;
      MetricLabel label;
      if (!name(label.name, false)) return false;
      for (const auto& l : out)
        if (l.name == label.name) return fail(fmt::format("label '{}' appears twice", label.name));
      skip_blanks();
      if (!peek('=')) return fail(fmt::format("expected '=' after label '{}'", label.name));
      ++i_;
      skip_blanks();
      if (!quoted(label.value, label.name)) return false;
      if (out.size() == max_labels) return fail(fmt::format("more than {} labels", max_labels));
      out.push_back(std::move(label));
      skip_blanks();
      if (peek(',')) {
        ++i_;
        continue;
      }
      if (!peek('}')) return fail("expected ',' or '}' after a label value");
    }
    ++i_;  // '}'
    return true;
  }

  // The next blank-separated token as a number.
  bool number(double& out, const char* what) {
    const size_t start = i_;
    while (i_ < s_.size() && !is_blank(s_[i_])) ++i_;
    std::string_view token = s_.substr(start, i_ - start);
    if (token.empty()) return fail(fmt::format("expected {}", what));
    auto v = parse_prometheus_number(token);
    if (!v) return fail(fmt::format("'{}' is not a number ({})", clip(token), what));
    out = *v;
    return true;
  }

 private:
  bool quoted(std::string& out, const std::string& label) {
    if (!peek('"')) return fail(fmt::format("expected '\"' to open the value of label '{}'", label));
    for (++i_; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (++i_ == s_.size()) break;
      switch (s_[i_]) {
        case '\\': out.push_back('\\'); break;
        case '"': out.push_back('"'); break;
        case 'n': out.push_back('\n'); break;
        default: return fail(fmt::format("invalid escape '\\{}' in the value of label '{}'", s_[i_], label));
      }
    }
    return fail(fmt::format("the value of label '{}' has no closing '\"'", label));
  }

  static std::string clip(std::string_view s) {
    return s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
  }
  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string why_;
};

// "\\" and "\n" in HELP text.
std::string unescape_help(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
      out.push_back(s[++i] == 'n' ? '\n' : '\\');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "# HELP name text", "# TYPE name type", "# EOF", or any other comment (ignored). False with why on a bad TYPE.
bool read_comment(std::string_view line, MetricsPage& page, std::string& why) {
  LineReader r(line.substr(1));
  r.skip_blanks();
  std::string keyword;
  if (!r.name(keyword, false)) return true;  // "#" alone or "# 42": a comment
  if (keyword == "EOF" && r.at_end()) {
    page.open_metrics_eof = true;
    return true;
  }
  if (keyword != "HELP" && keyword != "TYPE") return true;
  r.skip_blanks();
  std::string family;
  if (!r.name(family, true)) return true;  // "# HELP" followed by prose: a comment, as Prometheus reads it
  r.skip_blanks();
  if (keyword == "HELP") {
    page.help[family] = unescape_help(r.rest());
    return true;
  }
  std::string type(r.rest());
  while (!type.empty() && is_blank(type.back())) type.pop_back();
  if (!kTypes.contains(type)) {
    why = fmt::format("'{}' is not a metric type (counter, gauge, histogram, summary, untyped, unknown, info, "
                      "stateset, gaugehistogram)",
                      type.substr(0, 40));
    return false;
  }
  if (page.types.contains(family)) {
    why = fmt::format("a second TYPE line for '{}'", family);
    return false;
  }
  page.types[family] = type;
  return true;
}

// name{labels} value [timestamp] [# exemplar]
bool read_sample(std::string_view line, MetricSample& sample, const MetricsTextLimits& limits, std::string& why) {
  LineReader r(line);
  r.skip_blanks();
  bool ok = r.name(sample.name, true);
  r.skip_blanks();
  if (ok && r.peek('{')) ok = r.labels(sample.labels, limits.max_labels);
  r.skip_blanks();
  ok = ok && r.number(sample.value, "the sample's value");
  r.skip_blanks();
  if (ok && !r.at_end() && !r.peek('#')) {
    double ts = 0;
    ok = r.number(ts, "a timestamp");
    if (ok && !std::isfinite(ts)) {
      why = "the timestamp is not a finite number";
      return false;
    }
    sample.timestamp = ts;
    r.skip_blanks();
  }
  // An OpenMetrics exemplar ("# {trace_id=...} 0.67") belongs to the sample and is not needed to judge it.
  if (ok && !r.at_end() && !r.peek('#')) {
    why = fmt::format("unexpected text after the timestamp: '{}'", r.rest().substr(0, 40));
    return false;
  }
  if (!ok) why = r.why();
  return ok;
}

}  // namespace

const std::string* MetricSample::label(std::string_view wanted) const {
  for (const auto& l : labels)
    if (l.name == wanted) return &l.value;
  return nullptr;
}

std::string MetricSample::labels_text() const {
  if (labels.empty()) return "";
  std::string out = "{";
  for (const auto& l : labels) {
    if (out.size() > 1) out += ",";
    out += l.name + "=\"";
    for (char c : l.value) {
      if (c == '\\' || c == '"') out += '\\';
      out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    out += "\"";
  }
  return out + "}";
}

Result<MetricsPage> parse_metrics_text(std::string_view text, const std::function<bool(std::string_view)>& keep,
                                       const MetricsTextLimits& limits) {
  MetricsPage page;
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits.max_line)
      return fail(fmt::format("line {}: longer than {} bytes", line_number, limits.max_line));
    size_t first = 0;
    while (first < line.size() && is_blank(line[first])) ++first;
    if (first == line.size()) continue;
    if (page.open_metrics_eof) return fail(fmt::format("line {}: text after '# EOF'", line_number));
    std::string why;
    if (line[first] == '#') {
      if (!read_comment(line.substr(first), page, why)) return fail(fmt::format("line {}: {}", line_number, why));
      continue;
    }
    MetricSample sample;
    if (!read_sample(line, sample, limits, why)) return fail(fmt::format("line {}: {}", line_number, why));
    ++page.total_samples;
    if (keep && !keep(sample.name)) continue;
    if (page.samples.size() == limits.max_kept)
      return fail(fmt::format("line {}: more than {} samples picked", line_number, limits.max_kept));
    page.samples.push_back(std::move(sample));
  }
  return page;
}

}  // namespace rebound
