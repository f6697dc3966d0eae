// network.delay and tcp.toxic: a client in the target's cgroup (in the test's client namespace) talks to
// a server in the server namespace through rebound's proxy; what the client observes under each toxic is
// asserted. Root only. Steering (who is steered, IPv6, rebound's end): test_proxy_steering.cpp.
#include <catch2/catch.hpp>

#include "proxy_bed.hpp"

using namespace proxy_test;

TEST_CASE("network.delay adds the declared latency to the target's connections, and to nobody else's",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"network.delay\"\nlatency = \"100ms\""));
  CHECK(cgroup_has_programs(bed.cg.path()));
  auto inside = bed.requests(true, 15, 100);
  auto outside = bed.requests(false, 15, 100);
  auto other_port = bed.requests(true, 5, 100, false, kOtherPort);
  for (const auto& r : inside) CHECK(r["bytes"] == 100);
  // Added: 100 ms on the response (downstream). The loop's timer and loopback add well under 15 ms.
  double median = quantile(field(inside, "first_ms"), 0.5);
  CHECK(median >= 100.0);
  CHECK(median <= 115.0);
  CHECK(quantile(field(outside, "first_ms"), 0.5) < 10.0);
  CHECK(quantile(field(other_port, "first_ms"), 0.5) < 10.0);
  CHECK(fault.stop() == 3);
  // Reverted: the hooks are gone and the same clients connect directly again.
  CHECK_FALSE(cgroup_has_programs(bed.cg.path()));
  CHECK(quantile(field(bed.requests(true, 5, 100), "first_ms"), 0.5) < 10.0);
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["connections"] == 15);
  CHECK(detail["toxic_connections"] == 15);
  CHECK(detail["connects_affected"] == 15);
  CHECK(detail["unknown_origin"] == 0);
}

TEST_CASE("latency per direction: upstream delays the request, both delays it twice", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  for (auto [direction, expected] : {std::pair{"upstream", 60.0}, std::pair{"both", 120.0}}) {
    DYNAMIC_SECTION(direction) {
      test::RunningFault fault(bed.targets(), step(std::string("type = \"network.delay\"\nlatency = \"60ms\"\n"
                                                               "direction = \"") + direction + "\""));
      double median = quantile(field(bed.requests(true, 9, 100), "first_ms"), 0.5);
      CHECK(median >= expected);
      CHECK(median <= expected + 15);
      fault.stop();
    }
  }
}

TEST_CASE("jitter spreads the added latency uniformly over latency ± jitter", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"network.delay\"\nlatency = \"100ms\"\njitter = \"40ms\""));
  auto first = field(bed.requests(true, 40, 100), "first_ms");
  INFO(nlohmann::json(first).dump());
  // Uniform over [60, 140]: nothing outside it (plus scheduling slack), and a wide spread inside it
  // (the 10th and 90th percentiles of 40 draws fall outside [85, 115] with probability above 99.9%).
  CHECK(first.front() >= 60.0);
  CHECK(first.back() <= 165.0);  // 140 plus scheduling slack (151 ms seen under ASan on a loaded machine)
  CHECK(quantile(first, 0.1) < 85.0);
  CHECK(quantile(first, 0.9) > 115.0);
  fault.stop();
}

TEST_CASE("bandwidth holds a transfer near the declared rate", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"tcp.toxic\"\ntoxic = \"bandwidth\"\nrate = \"500kB\""));
  auto r = bed.requests(true, 1, 1'000'000)[0];
  REQUIRE(r["bytes"] == 1'000'000);
  double rate = 1e6 / (r["end_ms"].get<double>() / 1000.0);
  CHECK(rate <= 500e3 * 1.1);
  CHECK(rate >= 500e3 * 0.8);
  // Unlimited outside the cgroup: the same transfer is at least ten times faster.
  auto direct = bed.requests(false, 1, 1'000'000)[0];
  CHECK(direct["end_ms"].get<double>() * 10 < r["end_ms"].get<double>());
  fault.stop();
}

TEST_CASE("reset_peer: the client's read fails with ECONNRESET after the declared time", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"tcp.toxic\"\ntoxic = \"reset_peer\"\nafter = \"300ms\""));
  for (const auto& r : bed.requests(true, 3, 10, true)) {
    CHECK(r["end"] == "ECONNRESET");
    CHECK(r["bytes"] == 10);  // data before the reset got through
    CHECK(r["end_ms"].get<double>() >= 300.0);
    CHECK(r["end_ms"].get<double>() <= 400.0);
  }
  CHECK(bed.requests(false, 1, 10, true)[0]["end"] == "timeout");  // outside: the server holds it open
  fault.stop();
}

TEST_CASE("timeout: no data gets through and the connection closes after the declared time", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"tcp.toxic\"\ntoxic = \"timeout\"\nafter = \"500ms\""));
  for (const auto& r : bed.requests(true, 3, 100)) {
    CHECK(r["bytes"] == 0);
    CHECK(r["end"] == "eof");
    CHECK(r["end_ms"].get<double>() >= 500.0);
    CHECK(r["end_ms"].get<double>() <= 650.0);
  }
  fault.stop();
}

TEST_CASE("slow_close: data arrives at once, the close only after the declared delay", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"tcp.toxic\"\ntoxic = \"slow_close\"\ndelay = \"400ms\""));
  for (const auto& r : bed.requests(true, 3, 100)) {
    CHECK(r["bytes"] == 100);
    CHECK(r["data_ms"].get<double>() < 50.0);
    CHECK(r["end"] == "eof");
    CHECK(r["end_ms"].get<double>() >= 400.0);
    CHECK(r["end_ms"].get<double>() <= 550.0);
  }
  fault.stop();
}

TEST_CASE("slicer: a response arrives intact in many small, spaced reads", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"tcp.toxic\"\ntoxic = \"slicer\"\naverage_size = 20\n"
                                               "size_variation = 5\ndelay = \"3ms\""));
  auto r = bed.requests(true, 1, 1000)[0];
  CHECK(r["bytes"] == 1000);
  CHECK(r["end"] == "eof");
  // 1000 bytes in chunks of 15-25 bytes: at least 40 chunks, 3 ms apart. A reader that falls behind may
  // find two chunks at once, so allow some to merge.
  CHECK(r["reads"].get<int>() >= 30);
  CHECK(r["data_ms"].get<double>() - r["first_ms"].get<double>() >= 39 * 3.0);
  CHECK(bed.requests(false, 1, 1000)[0]["reads"].get<int>() <= 2);
  fault.stop();
}

TEST_CASE("stacked toxics with a toxicity: every connection is slowed, about half are cut at the byte limit",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(),
                           step("type = \"tcp.toxic\"\ntoxics = [\n  { toxic = \"latency\", latency = \"20ms\" },\n"
                                "  { toxic = \"limit_data\", bytes = 1000, toxicity = 0.5 },\n]"));
  auto results = bed.requests(true, 80, 5000);
  int cut = 0;
  for (const auto& r : results) {
    CHECK(r["first_ms"].get<double>() >= 20.0);
    CHECK(r["end"] == "eof");
    bool truncated = r["bytes"] == 1000;
    CHECK((truncated || r["bytes"] == 5000));
    cut += truncated;
  }
  // Binomial(80, 0.5): standard deviation 4.5; allow ±18 (4 deviations).
  CHECK(cut >= 22);
  CHECK(cut <= 58);
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  CHECK(detail["connections"] == 80);
  CHECK(detail["toxic_connections"] == 80);
}

TEST_CASE("the buffer bounds what one connection holds back: under latency L it carries at most buffer per L",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  const double bytes = 20e6, latency_s = 0.05;
  auto rate_with = [&](const std::string& buffer_key) {
    test::RunningFault fault(bed.targets(), step("type = \"network.delay\"\nlatency = \"50ms\"\n" + buffer_key));
    auto r = bed.requests(true, 1, static_cast<size_t>(bytes))[0];
    CHECK(r["bytes"] == bytes);
    fault.stop();
    return bytes / ((r["end_ms"].get<double>() - r["first_ms"].get<double>()) / 1000.0);
  };
  double default_rate = rate_with("");
  double big_rate = rate_with("buffer = \"8MiB\"");
  INFO("1 MiB: " << default_rate / 1e6 << " MB/s, 8 MiB: " << big_rate / 1e6 << " MB/s");
  // 1 MiB per 50 ms is 21 MB/s: the proxy never holds more than its buffer, so it cannot go faster.
  CHECK(default_rate <= 1.15 * (1 << 20) / latency_s);
  CHECK(default_rate >= 0.5 * (1 << 20) / latency_s);
  CHECK(big_rate >= 3 * default_rate);
}
