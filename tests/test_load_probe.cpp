// The open-loop load probe (issue 14): requests on a fixed schedule, latency from the scheduled start, every
// request a sample for the analysis, bounded storage (one record per 10 ms bucket with a latency histogram).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "experiments/analysis.hpp"
#include "experiments/loader.hpp"
#include "experiments/sampler.hpp"
#include "helpers.hpp"
#include "probes/load_probe.hpp"

using test::only_error;

namespace {

// A probe table (lines 2-5) whose keys go on from line 6.
std::string load_probe(const std::string& keys) {
  return "name = \"t\"\n[[probes]]\nname = \"load\"\ntype = \"load\"\ntimeout = \"2s\"\n" + keys;
}

rebound::Experiment load(const std::string& text) {
  auto r = rebound::load_experiment_text(text, "exp.toml", rebound::LoadOptions{"/opt/rebound"});
  for (const auto& d : r.diagnostics.items()) INFO(d.format());
  REQUIRE(r.experiment.has_value());
  return std::move(*r.experiment);
}

// Runs the experiment's first probe for `ms` and returns what its sampler recorded.
rebound::ProbeSeries run_probe(const rebound::Experiment& ex, int ms) {
  rebound::Sampler sampler(ex.probes.at(0), std::chrono::steady_clock::now());
  sampler.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  sampler.stop();
  return sampler.snapshot();
}

rebound::PhaseStats all_of(const rebound::ProbeSeries& s) { return rebound::phase_stats({&s}, -1e9, 1e12); }

// A bucket of `count` requests, `failures` of them failed, each taking latency_ms.
rebound::Sample bucket(double t, uint32_t count, uint32_t failures, double latency_ms) {
  std::vector<uint32_t> bins(count, rebound::latency_bins::index_of(latency_ms));
  rebound::Sample s{t, t + 10 + latency_ms, failures == 0, latency_ms, failures ? "status 503" : "", nullptr};
  s.requests = std::make_shared<const rebound::RequestCounts>(
      rebound::RequestCounts{count, failures, rebound::SparseHistogram::from_bins(bins)});
  return s;
}

}  // namespace

// ---- the histogram ----

TEST_CASE("load probe: histogram percentiles are within 0.4% of the exact ones", "[unit][load]") {
  std::mt19937 rng(7);
  std::lognormal_distribution<double> latency(1.0, 1.5);  // ms, from microseconds to seconds
  std::vector<double> values;
  rebound::LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    values.push_back(std::round(latency(rng) * 1000) / 1000);
    h.add(values.back());
  }
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = *rebound::percentile(values, p), approx = *h.percentile(p);
    INFO("p" << p << " exact " << exact << " histogram " << approx);
    CHECK(std::abs(approx - exact) <= exact * 0.004 + 0.0005);
  }
  CHECK(h.total() == 100000);
}

// ---- the analysis weighs a bucket by its requests ----

TEST_CASE("load probe: phase stats count every request of a bucket, percentiles from the histograms",
          "[unit][load]") {
  rebound::ProbeSeries s;
  s.name = "load";
  for (int i = 0; i < 100; ++i) s.samples.push_back(bucket(i * 10.0, 5, i < 10 ? 5 : 0, i < 10 ? 900 : 2));
  auto stats = all_of(s);
  CHECK(stats.samples == 500);
  CHECK(stats.failures == 50);
  CHECK(stats.error_ratio == Approx(0.1));
  CHECK(*stats.p50 == Approx(2).epsilon(0.004));
  CHECK(*stats.p95 == Approx(900).epsilon(0.004));
  // A sequential probe's samples beside it count one each.
  rebound::ProbeSeries seq;
  seq.name = "seq";
  seq.samples.push_back({5, 6, false, 1, "timeout", nullptr});
  auto both = rebound::phase_stats({&s, &seq}, -1e9, 1e12);
  CHECK(both.samples == 501);
  CHECK(both.failures == 51);
}

TEST_CASE("load probe: a guard weighs buckets by their requests", "[unit][load]") {
  rebound::ProbeSeries s;
  s.name = "load";
  s.samples.push_back(bucket(0, 10, 0, 1));
  s.samples.push_back(bucket(10, 10, 9, 1));
  rebound::GuardRule rule{0.4, 1000, 15};
  auto ratio = rebound::guard_trips(s, rule, 100);
  REQUIRE(ratio);
  CHECK(*ratio == Approx(0.45));
  rule.min_samples = 21;  // 20 requests: not enough
  CHECK_FALSE(rebound::guard_trips(s, rule, 100));
}

TEST_CASE("load probe: a failing bucket is impact, and recovery starts after it", "[unit][load]") {
  rebound::ProbeSeries s;
  s.name = "load";
  for (int i = 0; i < 300; ++i) s.samples.push_back(bucket(i * 10.0, 5, (i >= 100 && i < 150) ? 1 : 0, 2));
  const rebound::SeriesSet set{&s};
  CHECK(rebound::find_impact(set, 500, 3000) == Approx(1000));
  auto recovered = rebound::find_recovery(set, 1000, 500);
  REQUIRE(recovered);
  CHECK(*recovered == Approx(1510));  // the last failing bucket (1490) ended at 1502: the next one starts at 1510
}

// ---- validation: one test per message ----

TEST_CASE("message: a load probe rate without /s", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("url = \"http://127.0.0.1:1/\"\nrate = \"500\"\n")) ==
        "exp.toml:7:8: error: probes[0].rate: '500' is not a rate: write requests per second as \"500/s\"");
}

TEST_CASE("message: a load probe rate of zero", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("url = \"http://127.0.0.1:1/\"\nrate = \"0/s\"\n")) ==
        "exp.toml:7:8: error: probes[0].rate: a rate must be more than 0/s, not \"0/s\"");
}

TEST_CASE("message: a load probe rate beyond what it can send", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("url = \"http://127.0.0.1:1/\"\nrate = \"1e7/s\"\n")) ==
        "exp.toml:7:8: error: probes[0].rate: \"1e7/s\" is more than a load probe sends on schedule (at most "
        "100000/s)");
}

TEST_CASE("message: a load probe with both url and requests", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nurl = \"http://127.0.0.1:1/\"\n"
                              "requests = [{ url = \"http://127.0.0.1:1/\" }]\n")) ==
        "exp.toml:8:12: error: probes[0].requests: a load probe takes url or requests (a weighted list), not both");
}

TEST_CASE("message: a load probe URL that is not http, https or tcp", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nurl = \"ftp://127.0.0.1/\"\n")) ==
        "exp.toml:7:7: error: probes[0].url: 'ftp://127.0.0.1/' is not an http://, https:// or tcp:// URL");
}

TEST_CASE("message: an empty list of load requests", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nrequests = []\n")) ==
        "exp.toml:7:12: error: probes[0].requests: requests is empty: give at least one request (url, and method, "
        "headers, body, weight)");
}

TEST_CASE("message: a load request that is not a table", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nrequests = [\"http://127.0.0.1:1/\"]\n")) ==
        "exp.toml:7:12: error: probes[0].requests: requests[0] must be a table such as { url = \"http://...\", "
        "weight = 1 }");
}

TEST_CASE("message: a tcp URL in a list of load requests", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nrequests = [{ url = \"tcp://127.0.0.1:1\" }]\n")) ==
        "exp.toml:7:21: error: probes[0].requests[0].url: a tcp:// URL goes in the probe's url, not in a list of "
        "HTTP requests");
}

TEST_CASE("message: a load request weight of zero", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nrequests = [{ url = \"http://127.0.0.1:1/\", weight = 0 }]\n")) ==
        "exp.toml:7:53: error: probes[0].requests[0].weight: a weight must be more than 0, not 0");
}

TEST_CASE("message: an HTTP expectation on a tcp load probe", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nurl = \"tcp://127.0.0.1:1\"\nexpect_status = [200]\n")) ==
        "exp.toml:8:17: error: probes[0].expect_status: expect_status is for HTTP requests: a tcp:// load probe only "
        "connects");
}

TEST_CASE("message: max_in_flight out of range", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nurl = \"http://127.0.0.1:1/\"\nmax_in_flight = 0\n")) ==
        "exp.toml:8:17: error: probes[0].max_in_flight: max_in_flight must be between 1 and 100000, not 0");
}

TEST_CASE("message: a load probe's connections neither reuse nor new", "[unit][validation][messages][load]") {
  CHECK(only_error(load_probe("rate = \"10/s\"\nurl = \"http://127.0.0.1:1/\"\nconnections = \"pooled\"\n")) ==
        "exp.toml:8:15: error: probes[0].connections: connections must be \"reuse\" (a keep-alive pool of "
        "pool_size) or \"new\" (a connection per request), not 'pooled'");
}

// ---- the generator ----

TEST_CASE("load probe: sends at its rate, each request a sample", "[unit][load]") {
  test::HttpServer server(200, "ok");
  auto ex = load(load_probe("rate = \"200/s\"\nurl = \"" + server.url() + "\"\nexpect_body = \"ok\"\n"));
  auto series = run_probe(ex, 1000);
  auto stats = all_of(series);
  INFO("requests " << stats.samples << ", failed " << stats.failures);
  CHECK(stats.samples >= 190);
  CHECK(stats.samples <= 205);
  CHECK(stats.failures == 0);
  CHECK(series.samples.size() < stats.samples);  // buckets, not one record per request
  CHECK(series.failed_requests.empty());
}

TEST_CASE("load probe: latency counts from the scheduled start, not from when a slow server got to it",
          "[unit][load]") {
  // The server answers one request at a time after 50 ms: at most 20/s. Sent 40/s on schedule, the queue
  // grows and so does every user's wait; a closed-loop probe would have seen 50 ms each time.
  test::HttpServer server(200, "ok", 50);
  auto ex = load(load_probe("rate = \"40/s\"\nurl = \"" + server.url() + "\"\nconnections = \"new\"\n"));
  auto series = run_probe(ex, 1000);
  auto stats = all_of(series);
  INFO("requests " << stats.samples << ", failed " << stats.failures << ", p50 " << stats.p50.value_or(-1)
                   << ", p99 " << stats.p99.value_or(-1));
  CHECK(stats.samples >= 38);
  REQUIRE(stats.p99);
  CHECK(*stats.p99 > 400);
}

TEST_CASE("load probe: a request due beyond max_in_flight is a failed sample that says so", "[unit][load]") {
  test::HttpServer server(200, "ok", 200);
  auto ex = load(load_probe("rate = \"50/s\"\nurl = \"" + server.url() + "\"\nmax_in_flight = 2\n"));
  auto series = run_probe(ex, 1000);
  auto stats = all_of(series);
  CHECK(stats.samples >= 45);
  CHECK(stats.failures >= 30);
  REQUIRE_FALSE(series.failed_requests.empty());
  CHECK(series.failed_requests[0].reason == "not sent: 2 requests already in flight (max_in_flight)");
}

TEST_CASE("load probe: tcp:// connects, and a refused connect fails", "[unit][load]") {
  test::HttpServer server(200, "ok");
  auto open = load(load_probe("rate = \"100/s\"\nurl = \"tcp://127.0.0.1:" + std::to_string(server.port()) + "\"\n"));
  auto stats = all_of(run_probe(open, 500));
  CHECK(stats.samples >= 45);
  CHECK(stats.failures == 0);
  auto closed = load(load_probe("rate = \"100/s\"\nurl = \"tcp://127.0.0.1:1\"\n"));
  auto refused = run_probe(closed, 500);
  CHECK(all_of(refused).error_ratio == 1.0);
  REQUIRE_FALSE(refused.failed_requests.empty());
  CHECK(refused.failed_requests[0].reason == "Couldn't connect to server");
}

TEST_CASE("load probe: a weighted list of requests is sent in proportion", "[unit][load]") {
  test::HttpServer a(200, "a"), b(503, "b");
  auto ex = load(load_probe("rate = \"200/s\"\nrequests = [{ url = \"" + a.url() + "\", weight = 3 }, { url = \"" +
                            b.url() + "\", method = \"POST\", body = \"x\", weight = 1 }]\n"));
  auto stats = all_of(run_probe(ex, 1000));
  INFO("requests " << stats.samples << ", failed " << stats.failures);
  CHECK(stats.error_ratio == Approx(0.25).margin(0.04));  // the POSTs to the 503 server
}

// ---- the key test: a frozen backend behind HAProxy, seen by users and by one client ----

namespace {

bool has_haproxy() { return std::filesystem::exists("/usr/sbin/haproxy") || std::filesystem::exists("/usr/bin/haproxy"); }

// The shipped scenario with the steady state watching `probe`, run from a temporary folder.
nlohmann::json run_lb_scenario(const test::TempDir& dir, const std::string& probe, int& exit_code) {
  std::string text = test::read_text(test::source("scenarios/loadbalancer/lb-load-probe.toml"));
  const std::string watched = "probes = [\"users\"]";
  REQUIRE(text.find(watched) != std::string::npos);
  text.replace(text.find(watched), watched.size(), "probes = [\"" + probe + "\"]");
  dir.write("haproxy-load-probe.cfg", test::read_text(test::source("scenarios/loadbalancer/haproxy-load-probe.cfg")));
  const std::string file = dir.write("lb-" + probe + ".toml", text);
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r-" + probe, "--state-dir",
                              dir.path() + "/s", "--no-history"},
                             90'000);
  INFO(r.out << r.err);
  exit_code = r.exit_code;
  return test::read_json(dir.path() + "/r-" + probe + "/lb-load-probe/journal.json");
}

const nlohmann::json& probe_of(const nlohmann::json& j, const std::string& name) {
  for (const auto& p : j["probes"])
    if (p["name"] == name) return p;
  FAIL("no probe " << name);
  return j;
}

const nlohmann::json* criterion_of(const nlohmann::json& j, const std::string& name) {
  for (const auto& c : j["slo"])
    if (c["criterion"] == name) return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("load probe: a backend frozen behind HAProxy fails many users' requests over the detection time, one "
          "client sees a few, and max_error_ratio fails only for the users",
          "[integration][load][haproxy]") {
  REQUIRE(has_haproxy());  // scripts/install-deps.sh installs it
  test::TempDir dir;
  int users_exit = -1, client_exit = -1;
  auto users = run_lb_scenario(dir, "users", users_exit);
  auto client = run_lb_scenario(dir, "one-client", client_exit);
  for (const auto* j : {&users, &client}) {
    const auto& load = probe_of(*j, "users");
    const auto& seq = probe_of(*j, "one-client");
    // The span of the users' failed requests: first scheduled start to last end.
    double first = 1e18, last = -1;
    size_t failed = 0, seq_failed = 0;
    // The journal's buckets: rows of t_ms, end_ms, requests, failed, max_latency_ms, p50_ms, p99_ms, first_failure.
    REQUIRE(load["bucket_columns"][3] == "failed");
    for (const auto& row : load["buckets"]) {
      if (row[3] == 0) continue;
      failed += row[3].get<size_t>();
      first = std::min(first, row[0].get<double>());
      last = std::max(last, row[1].get<double>());
    }
    for (const auto& s : seq["samples"]) seq_failed += s["ok"] ? 0 : 1;
    WARN("users: " << failed << " failed requests over " << (last - first) << " ms; one client: " << seq_failed
                   << " failed samples");
    CHECK(failed >= 50);
    CHECK(last - first > 200);
    CHECK(last - first < 2500);  // about the balancer's detection time (2 x 200 ms checks) plus a 400 ms timeout
    CHECK(seq_failed <= 5);
  }
  auto* users_ratio = criterion_of(users, "max_error_ratio");
  auto* client_ratio = criterion_of(client, "max_error_ratio");
  REQUIRE(users_ratio);
  REQUIRE(client_ratio);
  WARN("max_error_ratio: users " << (*users_ratio)["value"] << ", one client " << (*client_ratio)["value"]);
  CHECK((*users_ratio)["passed"] == false);
  CHECK(users["verdict"] == "failed");
  CHECK(users_exit == 1);
  CHECK((*client_ratio)["passed"] == true);
  // The users' impact phase counts every request: thousands, not hundreds of samples.
  CHECK(users["metrics"]["phases"]["impact"]["samples"].get<size_t>() > 2000);
  CHECK(users["metrics"]["time_to_heal_ms"].is_number());
  // The reports give the load probe's own phases over every request, and its lane in the timeline.
  CHECK(users["metrics"]["load_phases"]["users"]["impact"]["failures"].get<size_t>() >= 50);
  CHECK(client["metrics"]["load_phases"]["users"]["impact"]["samples"].get<size_t>() > 2000);
  auto summary = test::read_text(dir.path() + "/r-users/lb-load-probe/summary.md");
  CHECK(summary.find("## Load probe users: every request") != std::string::npos);
  auto junit = test::read_text(dir.path() + "/r-users/junit.xml");
  CHECK(junit.find("name=\"load.users.impact\"") != std::string::npos);
  auto html = test::read_text(dir.path() + "/r-users/lb-load-probe/report.html");
  CHECK(html.find("class=\"latency-band\"") != std::string::npos);
  CHECK(html.find("class=\"error-ratio\"") != std::string::npos);
  CHECK(html.find(">requests/10 ms (grey)<") != std::string::npos);
}
