// The prometheus probe against a real Prometheus server (Debian's package) that the test starts, scraping the
// demo service's /metrics every second.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "experiments/loader.hpp"
#include "helpers.hpp"
#include "probes/http_client.hpp"
#include "probes/registry.hpp"

using namespace rebound;

namespace {

// A loopback port nobody listens on right now (the kernel's pick).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

// Prometheus scraping 127.0.0.1:target_port every second, with its own storage in a temp folder; killed and
// removed at the end of the test (test::Child, test::TempDir).
struct PrometheusServer {
  test::TempDir dir;
  int port = free_port();
  std::unique_ptr<test::Child> process;

  explicit PrometheusServer(int target_port) {
    std::string binary = test::sh("command -v prometheus || true");  // scripts/install-deps.sh --test installs it
    if (!binary.empty() && binary.back() == '\n') binary.pop_back();
    INFO("prometheus is not installed: scripts/install-deps.sh --test installs it");
    REQUIRE_FALSE(binary.empty());
    const std::string config = dir.write("prometheus.yml",
                                         "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                         "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
                                         "      - targets: ['127.0.0.1:" + std::to_string(target_port) + "']\n");
    process = std::make_unique<test::Child>(
        std::vector<std::string>{binary, "--config.file=" + config, "--storage.tsdb.path=" + dir.path() + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
        dir.path() + "/prometheus.log");
    HttpClient client;
    const bool ready = test::wait_for(
        [&] { return client.perform(HttpRequest{"GET", url() + "/-/ready", {}, "", Millis(500), 4096}).status == 200; },
        15'000);
    INFO(test::read_text(dir.path() + "/prometheus.log"));
    REQUIRE(ready);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

std::shared_ptr<Probe> query_probe(const PrometheusServer& server, const std::string& query, const std::string& expect,
                                   const std::string& series = "all") {
  std::string escaped;
  for (char c : query) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
  auto r = load_experiment_text("name = \"p\"\n[[probes]]\nname = \"p\"\ntype = \"prometheus\"\nurl = \"" + server.url() +
                                    "\"\nquery = \"" + escaped + "\"\nexpect = \"" + expect + "\"\nseries = \"" + series +
                                    "\"\ntimeout = \"2s\"\n",
                                "p.toml", LoadOptions{"/"});
  INFO(r.diagnostics.format_all());
  REQUIRE(r.experiment);
  return r.experiment->probes.at(0).probe;
}

// The last sample of a probe once it passes, or its last failed one after timeout_ms.
SampleResult sample_until_ok(Probe& probe, int timeout_ms) {
  SampleResult last;
  test::wait_for([&] { return (last = probe.sample()).ok; }, timeout_ms);
  return last;
}

}  // namespace

TEST_CASE("prometheus probe: a real Prometheus server judges the demo service's metrics",
          "[unit][probes][prometheus]") {
  test::Child demo({test::bin("rebound-demo-service"), "--port", "18346"});
  REQUIRE(test::wait_for([] { return test::port_open(18346); }, 5000));
  PrometheusServer prometheus(18346);

  auto up = query_probe(prometheus, "up{job=\"demo\"}", "== 1");
  auto first = sample_until_ok(*up, 10'000);  // the first scrape, within about a second
  CHECK(first.ok);
  CHECK(first.reason == "up{instance=\"127.0.0.1:18346\",job=\"demo\"} 1 == 1");

  for (int i = 0; i < 20; ++i) test::sh("curl -sf -o /dev/null http://127.0.0.1:18346/");
  auto rate = query_probe(prometheus, "sum(rate(rebound_demo_requests_total{code=\"200\"}[5s]))", "> 0");
  auto r = sample_until_ok(*rate, 10'000);  // two scrapes after the requests
  CHECK(r.ok);
  CHECK(r.reason.ends_with(" > 0"));
  // Every request scraped (no more traffic from here on): the values below are exact.
  auto sum = query_probe(prometheus, "sum(rebound_demo_requests_total{code=\"200\"})", "== 20");
  auto total = sample_until_ok(*sum, 5000);
  CHECK(total.reason == "20 == 20");

  {  // a false expectation fails with the value
    auto s = query_probe(prometheus, "rebound_demo_requests_total{code=\"200\"}", "< 1")->sample();
    CHECK_FALSE(s.ok);
    CHECK(s.reason ==
          "rebound_demo_requests_total{code=\"200\",instance=\"127.0.0.1:18346\",job=\"demo\"} 20, expected < 1");
  }
  {  // a query with no series fails with that reason
    auto s = query_probe(prometheus, "rebound_demo_requests_total{code=\"500\"}", "== 0")->sample();
    CHECK_FALSE(s.ok);
    CHECK(s.reason == "the query returned no series");
  }
  {  // several series: all must hold unless any is asked for
    const std::string both = "sum by (code) (rebound_demo_requests_total)";
    auto all = query_probe(prometheus, both, "> 0")->sample();
    CHECK_FALSE(all.ok);
    CHECK(all.reason == "1 of 2 series fail > 0: {code=\"503\"} 0");
    auto any = query_probe(prometheus, both, "> 0", "any")->sample();
    CHECK(any.ok);
    CHECK(any.reason == "1 of 2 series > 0: {code=\"200\"} 20");
  }
  {  // a query Prometheus refuses and a range vector fail with the reason
    auto bad = query_probe(prometheus, "rate(", "> 0")->sample();
    CHECK_FALSE(bad.ok);
    CHECK(bad.reason.starts_with("the query failed: bad_data: "));
    auto range = query_probe(prometheus, "up[5s]", "> 0")->sample();
    CHECK_FALSE(range.ok);
    CHECK(range.reason.starts_with("the query returned a range vector"));
  }
  {  // a division by zero is NaN and never passes
    auto s = query_probe(prometheus, "sum(rebound_demo_requests_total{code=\"503\"}) / 0 * 0", "!= 1")->sample();
    CHECK_FALSE(s.ok);
    CHECK(s.reason == "the value is NaN, expected != 1");
  }
}
