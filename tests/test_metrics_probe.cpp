// The metrics probe against the demo service's own /metrics (and pages a test server serves), and the
// validation messages of the metrics and prometheus probes.
#include <catch2/catch.hpp>
#include <csignal>

#include "experiments/loader.hpp"
#include "helpers.hpp"
#include "probes/registry.hpp"

using namespace rebound;

namespace {
std::shared_ptr<Probe> make_probe(const std::string& body) {
  auto r = load_experiment_text("name = \"p\"\n[[probes]]\nname = \"p\"\n" + body, "p.toml", LoadOptions{"/"});
  INFO(r.diagnostics.format_all());
  REQUIRE(r.experiment);
  return r.experiment->probes.at(0).probe;
}

// A metrics probe on the demo service at `port`.
std::shared_ptr<Probe> demo_metrics(int port, const std::string& rest) {
  return make_probe("type = \"metrics\"\nurl = \"http://127.0.0.1:" + std::to_string(port) + "/metrics\"\n" + rest);
}

// The demo service on a port of its own, with `requests` answered before the test goes on.
struct Demo {
  int port;
  test::Child service;
  explicit Demo(int port_, int requests = 0)
      : port(port_), service({test::bin("rebound-demo-service"), "--port", std::to_string(port_)}) {
    REQUIRE(test::wait_for([&] { return test::port_open(port); }, 5000));
    send(requests);
  }
  void send(int requests) const {
    for (int i = 0; i < requests; ++i) test::sh("curl -sf -o /dev/null http://127.0.0.1:" + std::to_string(port) + "/");
  }
};

std::string probe_error(const std::string& type, const std::string& keys) {
  return test::only_error("name = \"t\"\n[[probes]]\nname = \"m\"\ntype = \"" + type + "\"\n" + keys);
}
}  // namespace

TEST_CASE("metrics probe: the demo service's request counter passes or fails with its value",
          "[unit][probes][metrics]") {
  Demo demo(18341, 3);
  auto at_least = demo_metrics(demo.port, "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"200\" }\n"
                                          "expect = \">= 3\"\n");
  auto s = at_least->sample();
  CHECK(s.ok);
  CHECK(s.reason == "3 >= 3");  // scrapes of /metrics are not requests of the service
  auto errors = demo_metrics(demo.port, "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"503\" }\n"
                                        "expect = \"== 0\"\n");
  CHECK(errors->sample().reason == "0 == 0");
  auto too_few = demo_metrics(demo.port, "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"200\" }\n"
                                         "expect = \"< 1\"\n");
  auto f = too_few->sample();
  CHECK_FALSE(f.ok);
  CHECK(f.reason == "3, expected < 1");
}

TEST_CASE("metrics probe: the demo service's histogram and gauge can be picked", "[unit][probes][metrics]") {
  Demo demo(18342, 2);
  auto bucket = demo_metrics(demo.port, "metric = \"rebound_demo_request_duration_seconds_bucket\"\n"
                                        "labels = { le = \"+Inf\" }\nexpect = \"== 2\"\n");
  CHECK(bucket->sample().reason == "2 == 2");
  auto gauge = demo_metrics(demo.port, "metric = \"rebound_demo_in_flight_requests\"\nexpect = \"== 0\"\n");
  CHECK(gauge->sample().ok);
}

TEST_CASE("metrics probe: a series that is missing or ambiguous fails and names what the page has",
          "[unit][probes][metrics]") {
  Demo demo(18343);
  auto missing = demo_metrics(demo.port, "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"500\" }\n"
                                         "expect = \"== 0\"\n");
  auto m = missing->sample();
  CHECK_FALSE(m.ok);
  CHECK(m.reason == "no series rebound_demo_requests_total{code=\"500\"} on the page; rebound_demo_requests_total has "
                    "{code=\"200\"}, {code=\"503\"}");
  auto ambiguous = demo_metrics(demo.port, "metric = \"rebound_demo_requests_total\"\nexpect = \"== 0\"\n");
  auto a = ambiguous->sample();
  CHECK_FALSE(a.ok);
  CHECK(a.reason == "2 series match rebound_demo_requests_total: {code=\"200\"}, {code=\"503\"}; add labels to pick "
                    "one");
  auto unknown = demo_metrics(demo.port, "metric = \"no_such_metric\"\nexpect = \"== 0\"\n");
  auto u = unknown->sample();
  CHECK_FALSE(u.ok);
  CHECK(u.reason.starts_with("no series named no_such_metric on the page ("));
}

TEST_CASE("metrics probe: rate judges requests per second and the first sample says how it got one",
          "[unit][probes][metrics]") {
  Demo demo(18344);
  auto rate = demo_metrics(demo.port, "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"200\" }\n"
                                      "rate = \"10s\"\nexpect = \"> 0\"\ntimeout = \"1s\"\n");
  auto first = rate->sample();  // no traffic yet: two scrapes about 500 ms apart (half the timeout), rate 0
  CHECK_FALSE(first.ok);
  CHECK(first.reason.starts_with("rate 0/s, expected > 0 (over "));
  CHECK(first.reason.ends_with("ms, the first sample's two scrapes)"));
  CHECK(first.latency_ms < 400);  // the slower of its two scrapes, not the 500 ms wait between them
  demo.send(20);
  auto second = rate->sample();
  CHECK(second.ok);
  CHECK(second.reason.starts_with("rate "));
  CHECK(second.reason.find("/s > 0 (over ") != std::string::npos);
}

TEST_CASE("metrics probe: a counter reset gives the rate since the restart, never a negative rate",
          "[unit][probes][metrics]") {
  std::shared_ptr<Probe> rate;
  {
    Demo before(18345, 30);
    rate = demo_metrics(before.port, "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"200\" }\n"
                                      "rate = \"1m\"\nexpect = \">= 0\"\ntimeout = \"400ms\"\n");
    REQUIRE(rate->sample().ok);
  }  // the service dies: its counter starts again from 0
  Demo after(18345, 2);
  auto s = rate->sample();
  CHECK(s.ok);
  CHECK(s.reason.find("counter reset") != std::string::npos);
}

TEST_CASE("metrics probe: a page it cannot read fails with the line and the reason", "[unit][probes][metrics]") {
  test::HttpServer broken(200, "# TYPE up gauge\nup{job=\"a\" 1\n");
  auto p = make_probe("type = \"metrics\"\nurl = \"" + broken.url("/metrics") + "\"\nmetric = \"up\"\nexpect = \"== 1\"\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "cannot read the page: line 2: expected ',' or '}' after a label value");
  test::HttpServer nan(200, "load NaN\n");
  auto n = make_probe("type = \"metrics\"\nurl = \"" + nan.url() + "\"\nmetric = \"load\"\nexpect = \"!= 0\"\n");
  auto ns = n->sample();
  CHECK_FALSE(ns.ok);
  CHECK(ns.reason == "load is NaN");
  test::HttpServer missing(404, "not here");
  auto g = make_probe("type = \"metrics\"\nurl = \"" + missing.url() + "\"\nmetric = \"load\"\nexpect = \"!= 0\"\n");
  CHECK(g->sample().reason == "status 404");
  auto down = make_probe("type = \"metrics\"\nurl = \"http://127.0.0.1:9/metrics\"\nmetric = \"up\"\nexpect = \"== 1\"\n");
  CHECK(down->sample().reason == "Couldn't connect to server");
}

TEST_CASE("validation: a metrics probe's name must be a metric name", "[unit][validation][metrics]") {
  CHECK(probe_error("metrics", "url = \"http://127.0.0.1:1/metrics\"\nmetric = \"9lives\"\nexpect = \"< 1\"\n") ==
        "exp.toml:6:10: error: probes[0].metric: '9lives' is not a metric name: letters, digits, '_' and ':', not "
        "starting with a digit");
}

TEST_CASE("validation: metrics probe labels must be strings", "[unit][validation][metrics]") {
  CHECK(probe_error("metrics", "url = \"http://127.0.0.1:1/metrics\"\nmetric = \"up\"\nlabels = { code = 500 }\n"
                               "expect = \"< 1\"\n") ==
        "exp.toml:7:10: error: probes[0].labels: label code must be a string, such as code = \"500\"");
}

TEST_CASE("validation: a bad expect names the key and shows what to write", "[unit][validation][metrics]") {
  CHECK(probe_error("metrics", "url = \"http://127.0.0.1:1/metrics\"\nmetric = \"up\"\nexpect = \"under 0.01\"\n") ==
        "exp.toml:7:10: error: probes[0].expect: 'under 0.01' is not an expectation: write an operator (<, <=, >, "
        ">=, ==, !=) and a number, such as \"< 0.01\" or \">= 3\"");
  CHECK(probe_error("prometheus", "url = \"http://127.0.0.1:1\"\nquery = \"up\"\nexpect = \">= NaN\"\n") ==
        "exp.toml:7:10: error: probes[0].expect: '>= NaN': the number to compare with must be finite (not NaN or "
        "Inf)");
  CHECK(probe_error("prometheus", "url = \"http://127.0.0.1:1\"\nquery = \"up\"\n") ==
        "exp.toml:2:1: error: probes[0].expect: missing required key (add expect = <a string>)");
}

TEST_CASE("validation: a metrics probe's rate needs a duration with a unit", "[unit][validation][metrics]") {
  const std::string keys = "url = \"http://127.0.0.1:1/metrics\"\nmetric = \"up\"\nexpect = \"< 1\"\n";
  CHECK(probe_error("metrics", keys + "rate = \"5 sec\"\n") ==
        "exp.toml:8:8: error: probes[0].rate: '5 sec' is not a duration: write a number and a unit, such as "
        "\"250ms\", \"5s\" or \"2m\" (units: us, ms, s, m, h)");
  CHECK(probe_error("metrics", keys + "rate = \"0s\"\n") ==
        "exp.toml:8:8: error: probes[0].rate: a rate needs a span longer than 0, such as \"5s\"");
}

TEST_CASE("validation: unknown series mode of a prometheus probe", "[unit][validation][prometheus]") {
  CHECK(probe_error("prometheus", "url = \"http://127.0.0.1:1\"\nquery = \"up\"\nexpect = \"== 1\"\nseries = \"every\"\n") ==
        "exp.toml:8:10: error: probes[0].series: unknown series mode 'every' (all, any, each)");
}

TEST_CASE("validation: an empty PromQL query", "[unit][validation][prometheus]") {
  CHECK(probe_error("prometheus", "url = \"http://127.0.0.1:1\"\nquery = \" \"\nexpect = \"== 1\"\n") ==
        "exp.toml:6:9: error: probes[0].query: the query is empty: write a PromQL expression, such as up{job=\"api\"}");
}

TEST_CASE("rebound faults lists the metrics and prometheus probes with their keys", "[unit][cli][metrics]") {
  auto r = test::run_rebound({"faults"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("\nmetrics\n  Scrapes a Prometheus/OpenMetrics text endpoint") != std::string::npos);
  CHECK(r.out.find("\nprometheus\n  Instant PromQL query") != std::string::npos);
  CHECK(r.out.find("several series: \"all\" must hold") != std::string::npos);
}

TEST_CASE("rebound run: a metrics rate probe holds the steady state from its first sample", "[unit][probes][metrics]") {
  Demo demo(18347);
  test::TempDir dir;
  const std::string url = "http://127.0.0.1:18347";
  const std::string file = dir.write(
      "metrics.toml", "name = \"metrics-rate\"\n"
                      "[[probes]]\nname = \"traffic\"\ntype = \"http\"\nurl = \"" + url + "/\"\ninterval = \"20ms\"\n"
                      "[[probes]]\nname = \"served\"\ntype = \"metrics\"\nurl = \"" + url + "/metrics\"\n"
                      "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"200\" }\nrate = \"2s\"\n"
                      "expect = \"> 5\"\ninterval = \"250ms\"\n"
                      "[[probes]]\nname = \"errors\"\ntype = \"metrics\"\nurl = \"" + url + "/metrics\"\n"
                      "metric = \"rebound_demo_requests_total\"\nlabels = { code = \"503\" }\nrate = \"2s\"\n"
                      "expect = \"== 0\"\ninterval = \"250ms\"\n"
                      "[steady_state]\nwindow = \"1s\"\n"
                      "[[method]]\nname = \"hold\"\ntype = \"wait\"\nduration = \"300ms\"\n");
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
                              "--no-progress", "--no-history"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/r/metrics-rate/journal.json");
  CHECK(j["verdict"] == "passed");
  for (const auto& p : j["probes"]) {
    if (p["name"] == "traffic") continue;
    INFO(p["name"]);
    REQUIRE(p["samples"].size() >= 4);
    const std::string first = p["samples"][0]["reason"];
    CHECK(first.ends_with("the first sample's two scrapes)"));
    const std::string later = p["samples"][3]["reason"];
    CHECK(later.starts_with("rate "));
    CHECK(later.find("/s ") != std::string::npos);
  }
}
