// The Prometheus/OpenMetrics text parser, expectations, counter rates and the judgement of Prometheus query
// answers: pure functions, no server, no privileges.
#include <catch2/catch.hpp>
#include <cmath>

#include "probes/counter_rate.hpp"
#include "probes/expectation.hpp"
#include "probes/metrics_text.hpp"
#include "probes/query_answer.hpp"

using namespace rebound;

namespace {
MetricsPage parse_ok(const std::string& text) {
  auto page = parse_metrics_text(text);
  INFO((page ? std::string() : page.error().message));
  REQUIRE(page);
  return *page;
}

std::string parse_error(const std::string& text, const MetricsTextLimits& limits = {}) {
  auto page = parse_metrics_text(text, {}, limits);
  REQUIRE_FALSE(page);
  return page.error().message;
}

Expectation expect(const std::string& text) {
  auto e = Expectation::parse(text);
  INFO(text);
  REQUIRE(e);
  return *e;
}
}  // namespace

TEST_CASE("metrics text: samples with labels HELP and TYPE are read", "[unit][metrics]") {
  auto page = parse_ok(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# A normal comment.\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "process:cpu_seconds 4.2e-3\n");
  REQUIRE(page.samples.size() == 4);
  CHECK(page.total_samples == 4);
  CHECK(page.types.at("http_requests_total") == "counter");
  CHECK(page.help.at("http_requests_total") == "The total number of HTTP requests.");
  const auto& first = page.samples[0];
  CHECK(first.name == "http_requests_total");
  CHECK(*first.label("code") == "200");
  CHECK(first.value == 1027);
  REQUIRE(first.timestamp);
  CHECK(*first.timestamp == 1395066363000.0);
  CHECK(page.samples[1].value == 3);
  CHECK(page.samples[2].labels.empty());
  CHECK_FALSE(page.samples[2].timestamp);
  CHECK(page.samples[3].name == "process:cpu_seconds");
  CHECK(page.samples[3].value == Approx(0.0042));
}

TEST_CASE("metrics text: label values are unescaped and escaped again for display", "[unit][metrics]") {
  auto page = parse_ok("msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n"
                       "\\\"FILE.TXT\\\"\"} 1.458255915e9\n");
  REQUIRE(page.samples.size() == 1);
  CHECK(*page.samples[0].label("path") == "C:\\DIR\\FILE.TXT");
  CHECK(*page.samples[0].label("error") == "Cannot find file:\n\"FILE.TXT\"");
  CHECK(page.samples[0].labels_text() ==
        "{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"}");
  CHECK(page.samples[0].value == 1.458255915e9);
}

TEST_CASE("metrics text: +Inf -Inf and NaN values and a trailing comma in labels", "[unit][metrics]") {
  auto page = parse_ok("h_bucket{le=\"+Inf\",} +Inf\nneg -Inf\nnan_gauge NaN\nup{ job = \"a\" } 1\n");
  REQUIRE(page.samples.size() == 4);
  CHECK(*page.samples[0].label("le") == "+Inf");
  CHECK(std::isinf(page.samples[0].value));
  CHECK(page.samples[0].value > 0);
  CHECK(page.samples[1].value < 0);
  CHECK(std::isinf(page.samples[1].value));
  CHECK(std::isnan(page.samples[2].value));
  CHECK(*page.samples[3].label("job") == "a");
}

TEST_CASE("metrics text: OpenMetrics with EOF and exemplars", "[unit][metrics]") {
  auto page = parse_ok(
      "# TYPE foo counter\n# UNIT foo seconds\n# HELP foo Some text\\\\and a newline\\n.\n"
      "foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_created 1520430000.123\n"
      "# EOF\n");
  CHECK(page.open_metrics_eof);
  REQUIRE(page.samples.size() == 2);
  CHECK(page.samples[0].value == 17);
  CHECK(*page.samples[0].timestamp == Approx(1520879607.789));
  CHECK(page.help.at("foo") == "Some text\\and a newline\n.");
  CHECK(parse_error("a 1\n# EOF\nb 2\n") == "line 3: text after '# EOF'");
}

TEST_CASE("metrics text: keep picks samples by name and every sample is still checked", "[unit][metrics]") {
  auto page = parse_metrics_text("a 1\nb{x=\"1\"} 2\nb{x=\"2\"} 3\n", [](std::string_view n) { return n == "b"; });
  REQUIRE(page);
  CHECK(page->samples.size() == 2);
  CHECK(page->total_samples == 3);
  auto broken = parse_metrics_text("a 1\nc{ 2\nb 3\n", [](std::string_view n) { return n == "b"; });
  REQUIRE_FALSE(broken);
}

TEST_CASE("metrics text: malformed lines are rejected with their line number", "[unit][metrics]") {
  CHECK(parse_error("ok 1\n9lives 1\n") == "line 2: expected a metric name");
  CHECK(parse_error("a{x=\"1\" 2\n") == "line 1: expected ',' or '}' after a label value");
  CHECK(parse_error("a{x=1} 2\n") == "line 1: expected '\"' to open the value of label 'x'");
  CHECK(parse_error("a{x=\"1} 2\n") == "line 1: the value of label 'x' has no closing '\"'");
  CHECK(parse_error("a{x=\"\\t\"} 2\n") == "line 1: invalid escape '\\t' in the value of label 'x'");
  CHECK(parse_error("a{x=\"1\",x=\"2\"} 2\n") == "line 1: label 'x' appears twice");
  CHECK(parse_error("a{x} 2\n") == "line 1: expected '=' after label 'x'");
  CHECK(parse_error("a\n") == "line 1: expected the sample's value");
  CHECK(parse_error("a one\n") == "line 1: 'one' is not a number (the sample's value)");
  CHECK(parse_error("a 1 soon\n") == "line 1: 'soon' is not a number (a timestamp)");
  CHECK(parse_error("a 1 NaN\n") == "line 1: the timestamp is not a finite number");
  CHECK(parse_error("a 1 2 3\n") == "line 1: unexpected text after the timestamp: '3'");
  CHECK(parse_error("# TYPE a countr\n") ==
        "line 1: 'countr' is not a metric type (counter, gauge, histogram, summary, untyped, unknown, info, "
        "stateset, gaugehistogram)");
  CHECK(parse_error("# TYPE a gauge\n# TYPE a counter\n") == "line 2: a second TYPE line for 'a'");
}

TEST_CASE("metrics text: sizes are bounded", "[unit][metrics]") {
  MetricsTextLimits limits;
  limits.max_line = 20;
  limits.max_labels = 2;
  limits.max_kept = 2;
  CHECK(parse_error("short 1\n" + std::string(30, 'a') + " 1\n", limits) == "line 2: longer than 20 bytes");
  CHECK(parse_error("a{x=\"1\",y=\"2\",z=\"3\"} 1\n", MetricsTextLimits{100, 2, 10}) == "line 1: more than 2 labels");
  CHECK(parse_error("a 1\na 2\na 3\n", limits) == "line 3: more than 2 samples picked");
}

TEST_CASE("metrics text: Windows line endings and a missing final newline are read", "[unit][metrics]") {
  auto page = parse_ok("a 1\r\nb 2");
  REQUIRE(page.samples.size() == 2);
  CHECK(page.samples[1].value == 2);
}

TEST_CASE("expectation: each operator compares as written", "[unit][metrics]") {
  CHECK(expect("< 0.01").holds(0.001));
  CHECK_FALSE(expect("< 0.01").holds(0.01));
  CHECK(expect("<=0.01").holds(0.01));
  CHECK(expect(">= 3").holds(3));
  CHECK_FALSE(expect("> 3").holds(3));
  CHECK(expect("== 0").holds(0));
  CHECK(expect("!= 0").holds(1));
  CHECK(expect("  >  -1e3  ").holds(-999));
  CHECK(expect("< 0.01").text() == "< 0.01");
  CHECK(expect(">=3").text() == ">= 3");
}

TEST_CASE("expectation: NaN satisfies no expectation and Inf compares as a number", "[unit][metrics]") {
  const double nan = std::nan("");
  for (const char* e : {"< 1", "<= 1", "> 1", ">= 1", "== 1", "!= 1"}) CHECK_FALSE(expect(e).holds(nan));
  CHECK(expect("> 1").holds(INFINITY));
  CHECK_FALSE(expect("< 1").holds(INFINITY));
}

TEST_CASE("expectation: what is not an operator and a finite number is refused", "[unit][metrics]") {
  for (const char* bad : {"0.01", "< ", "<< 1", "=< 1", "< 0.01x", "< 1 2", "less than 1", "", "= 1", "< 0x10"}) {
    auto e = Expectation::parse(bad);
    INFO(bad);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("is not an expectation: write an operator") != std::string::npos);
  }
  auto inf = Expectation::parse("< +Inf");
  REQUIRE_FALSE(inf);
  CHECK(inf.error().message == "'< +Inf': the number to compare with must be finite (not NaN or Inf)");
}

TEST_CASE("values are shown whole or with six significant digits", "[unit][metrics]") {
  CHECK(format_value(42) == "42");
  CHECK(format_value(0.0023) == "0.0023");
  CHECK(format_value(2.0 / 3) == "0.666667");
  CHECK(format_value(std::nan("")) == "NaN");
  CHECK(format_value(-INFINITY) == "-Inf");
}

TEST_CASE("counter rate: per second between readings within the window", "[unit][metrics]") {
  CounterRate rate(Millis(5000));
  CHECK_FALSE(rate.add(0, 100));
  auto r = rate.add(1000, 110);
  REQUIRE(r);
  CHECK(r->per_second == Approx(10));
  CHECK(r->span_ms == 1000);
  rate.add(2000, 130);
  rate.add(5000, 160);
  auto later = rate.add(6000, 170);  // the reading at 0 ms is out of the 5 s window; 1000 ms is the oldest
  REQUIRE(later);
  CHECK(later->span_ms == 5000);
  CHECK(later->per_second == Approx(12));
  CHECK_FALSE(later->reset);
}

TEST_CASE("counter rate: a reset counts the new value as the increase like Prometheus", "[unit][metrics]") {
  CounterRate rate(Millis(10'000));
  (void)rate.add(0, 1000);
  (void)rate.add(1000, 1010);
  auto r = rate.add(2000, 5);  // restarted: 10 before the reset, 5 after it
  REQUIRE(r);
  CHECK(r->reset);
  CHECK(r->per_second == Approx(7.5));
  CHECK(r->per_second > 0);
}

TEST_CASE("counter rate: readings further apart than the window still give a rate", "[unit][metrics]") {
  CounterRate rate(Millis(1000));
  (void)rate.add(0, 0);
  auto r = rate.add(10'000, 50);
  REQUIRE(r);
  CHECK(r->span_ms == 10'000);
  CHECK(r->per_second == Approx(5));
}

namespace {
SampleResult judge(const std::string& body, const std::string& e, SeriesMode mode = SeriesMode::All,
                   long status = 200) {
  return judge_query_answer(body, status, expect(e), mode);
}
const std::string kTwoSeries =
    R"({"status":"success","data":{"resultType":"vector","result":[)"
    R"({"metric":{"instance":"a","job":"api"},"value":[1700000000.1,"0.002"]},)"
    R"({"metric":{"instance":"b","job":"api"},"value":[1700000000.1,"0.05"]}]}})";
}  // namespace

TEST_CASE("query answer: one series passes or fails with its value", "[unit][metrics][prometheus]") {
  const std::string one = R"({"status":"success","data":{"resultType":"vector","result":[)"
                          R"({"metric":{},"value":[1700000000.1,"0.0023"]}]}})";
  auto pass = judge(one, "< 0.01");
  CHECK(pass.ok);
  CHECK(pass.reason == "0.0023 < 0.01");
  auto miss = judge(one, "> 1");
  CHECK_FALSE(miss.ok);
  CHECK(miss.reason == "0.0023, expected > 1");
  auto scalar = judge(R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.1,"3"]}})", ">= 3");
  CHECK(scalar.ok);
  CHECK(scalar.reason == "3 >= 3");
  const std::string named = R"({"status":"success","data":{"resultType":"vector","result":[)"
                            R"({"metric":{"__name__":"up","job":"a"},"value":[1700000000.1,"1"]}]}})";
  CHECK(judge(named, "== 1").reason == "up{job=\"a\"} 1 == 1");
  const std::string name_only = R"({"status":"success","data":{"resultType":"vector","result":[)"
                                R"({"metric":{"__name__":"up"},"value":[1700000000.1,"0"]}]}})";
  CHECK(judge(name_only, "== 1").reason == "up 0, expected == 1");
}

TEST_CASE("query answer: several series are judged all any or each", "[unit][metrics][prometheus]") {
  auto all = judge(kTwoSeries, "< 0.01");
  CHECK_FALSE(all.ok);
  CHECK(all.reason == "1 of 2 series fail < 0.01: {instance=\"b\",job=\"api\"} 0.05");
  auto all_pass = judge(kTwoSeries, "< 1");
  CHECK(all_pass.ok);
  CHECK(all_pass.reason == "2 series, all < 1 (from 0.002 to 0.05)");
  auto any = judge(kTwoSeries, "< 0.01", SeriesMode::Any);
  CHECK(any.ok);
  CHECK(any.reason == "1 of 2 series < 0.01: {instance=\"a\",job=\"api\"} 0.002");
  auto none = judge(kTwoSeries, "> 1", SeriesMode::Any);
  CHECK_FALSE(none.ok);
  CHECK(none.reason.starts_with("none of 2 series > 1: "));
  auto each = judge(kTwoSeries, "< 0.01", SeriesMode::Each);
  CHECK_FALSE(each.ok);
  CHECK(each.reason ==
        "1 of 2 series < 0.01: {instance=\"a\",job=\"api\"} 0.002, {instance=\"b\",job=\"api\"} 0.05 (fails)");
}

TEST_CASE("query answer: what cannot be judged is a failed sample with the reason", "[unit][metrics][prometheus]") {
  auto empty = judge(R"({"status":"success","data":{"resultType":"vector","result":[]}})", "< 0.01");
  CHECK_FALSE(empty.ok);
  CHECK(empty.reason == "the query returned no series");
  auto nan = judge(R"({"status":"success","data":{"resultType":"scalar","result":[1.5,"NaN"]}})", "!= 0");
  CHECK_FALSE(nan.ok);
  CHECK(nan.reason == "the value is NaN, expected != 0");
  auto error = judge(R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"})",
                     "< 1", SeriesMode::All, 400);
  CHECK_FALSE(error.ok);
  CHECK(error.reason == "the query failed: bad_data: 1:5: parse error: unclosed left parenthesis");
  auto matrix = judge(R"({"status":"success","data":{"resultType":"matrix","result":[]}})", "< 1");
  CHECK_FALSE(matrix.ok);
  CHECK(matrix.reason.starts_with("the query returned a range vector"));
  auto text = judge(R"({"status":"success","data":{"resultType":"string","result":[1.5,"s"]}})", "< 1");
  CHECK_FALSE(text.ok);
  CHECK(text.reason == "the query returned a string, not a number");
  auto html = judge("<html>Not Found</html>", "< 1", SeriesMode::All, 404);
  CHECK_FALSE(html.ok);
  CHECK(html.reason == "status 404 (not the Prometheus API?)");
  auto odd = judge(R"({"status":7,"data":{"resultType":"vector","result":[{"value":"x"}]}})", "< 1");
  CHECK_FALSE(odd.ok);
  CHECK(odd.reason == "the query failed: error: status 200");
  auto bad_value = judge(R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}})", "< 1");
  CHECK_FALSE(bad_value.ok);
  CHECK(bad_value.reason == "a value that is not [time, \"number\"]");
}

TEST_CASE("metrics text: mutated pages are read or refused with a line number and never crash", "[unit][metrics]") {
  const std::string page =
      "# HELP a_total Requests.\n# TYPE a_total counter\na_total{code=\"200\",path=\"/x\\\\y\\\"z\\n\"} 1027 1395066363000\n"
      "h_bucket{le=\"+Inf\",} +Inf\nnan NaN\nfoo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n# EOF\n";
  const std::string alphabet = "{}=\",\\# \n\tNaInf+-.e0159azAZ_:";
  uint64_t state = 0x9E3779B97F4A7C15ull;  // a fixed sequence: a failure is reproducible
  auto next = [&] {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  };
  size_t read = 0, refused = 0, wrong = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = page;
    for (int edits = 1 + static_cast<int>(next() % 4); edits > 0; --edits) {
      const size_t at = next() % (text.size() + 1);
      switch (next() % 3) {
        case 0: text.insert(at, 1, alphabet[next() % alphabet.size()]); break;
        case 1: if (at < text.size()) text.erase(at, 1); break;
        default: if (at < text.size()) text[at] = alphabet[next() % alphabet.size()]; break;
      }
    }
    auto result = parse_metrics_text(text);
    if (result) {
      ++read;
      for (const auto& s : result->samples) wrong += s.name.empty();
    } else {
      ++refused;
      wrong += !result.error().message.starts_with("line ");
    }
  }
  CHECK(wrong == 0);
  CHECK(read > 0);
  CHECK(refused > 0);
}
