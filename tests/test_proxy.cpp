// network.delay and tcp.toxic: a client in the target's cgroup (in the test's client namespace) talks to
// a server in the server namespace through rebound's proxy; what the client observes is asserted. Root only.
#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>

#include "helpers.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kPort = 9100;       // the server the toxics are for
constexpr int kOtherPort = 9101;  // a server they are not for

// The test's hosts: a server answering on two ports, a cgroup for the clients, and a process in that cgroup
// and in the client namespace (a cgroup target must match a process, and the proxy listens in its namespace).
struct ProxyBed {
  test::TestNet net;
  test::TestCgroup cg;
  test::TempDir dir;
  std::unique_ptr<test::Child> anchor, server, other;
  ProxyBed() {
    anchor = std::make_unique<test::Child>(net.in(net.client, {"/bin/sleep", "300"}));
    cg.adopt(anchor->pid());
    server = std::make_unique<test::Child>(net.tool(net.server, {"tcp-serve", std::to_string(kPort)}), dir.path() + "/s1");
    other = std::make_unique<test::Child>(net.tool(net.server, {"tcp-serve", std::to_string(kOtherPort)}),
                                          dir.path() + "/s2");
    REQUIRE(test::file_contains_soon(dir.path() + "/s1", "ready", 5000));
    REQUIRE(test::file_contains_soon(dir.path() + "/s2", "ready", 5000));
  }
  std::string targets() const {
    return "[[targets]]\nname = \"clients\"\ncgroup = \"" + cg.path() + "\"\nmax_targets = 100\n";
  }
  // `count` requests of `bytes` each, one connection after another, from inside the cgroup or not.
  // `host`: the server's IPv4 address unless given (an IPv6 one, or "::ffff:" + IPv4).
  nlohmann::json requests(bool inside, int count, size_t bytes, bool hold = false, int port = kPort,
                          const std::string& host = "") const {
    test::TempDir d;
    std::vector<std::string> args{"tcp-request", host.empty() ? net.server_ip : host, std::to_string(port),
                                  std::to_string(count), std::to_string(bytes)};
    if (hold) args.push_back("hold");
    test::Child c(net.tool(net.client, args, inside ? cg.path() : ""), d.path() + "/out");
    REQUIRE(c.wait(120'000) == 0);
    auto text = test::read_text(d.path() + "/out");
    INFO(text);
    return nlohmann::json::parse(text.substr(text.find('{')))["results"];
  }
};

std::vector<double> field(const nlohmann::json& results, const char* key) {
  std::vector<double> v;
  for (const auto& r : results) v.push_back(r[key].get<double>());
  std::sort(v.begin(), v.end());
  return v;
}
double quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5)];
}

std::string step(const std::string& body) {
  return "target = \"clients\"\nports = [" + std::to_string(kPort) + "]\n" + body;
}

bool cgroup_has_programs(const std::string& path) {
  return test::sh("bpftool cgroup list " + path).find("netfault") != std::string::npos;
}

}  // namespace

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
  CHECK(first.back() <= 150.0);
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

TEST_CASE("SIGKILL of rebound mid-fault: the target's new connections go straight to the server again",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), step("type = \"network.delay\"\nlatency = \"200ms\""));
  CHECK(quantile(field(bed.requests(true, 3, 100), "first_ms"), 0.5) >= 200.0);
  fault.stop(SIGKILL);
  // The connect hooks died with rebound (links), so nothing steers into the listener that died too.
  CHECK_FALSE(cgroup_has_programs(bed.cg.path()));
  auto after = bed.requests(true, 5, 100);
  for (const auto& r : after) {
    CHECK(r["end"] == "eof");
    CHECK(r["bytes"] == 100);
    CHECK(r["first_ms"].get<double>() < 10.0);
  }
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("recover: 0 undone, 0 left to a running rebound, 0 failed") != std::string::npos);
}

TEST_CASE("rebound's own connections are never steered, even from inside the target's cgroup",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  // Everything in rebound's own namespace here: the target's client is curl, rebound's own probe hits the
  // same server on the same port, and rebound itself runs inside the target's cgroup.
  test::TestCgroup cg;
  test::HttpServer server(200, "ok");
  test::Child anchor({"/bin/sleep", "300"});
  cg.adopt(anchor.pid());
  std::string probe = "[[probes]]\nname = \"own\"\ntype = \"http\"\nurl = \"" + server.url() +
                      "\"\ninterval = \"50ms\"\ntimeout = \"2s\"\n";
  std::string launcher = "echo $$ > " + cg.path() + "/cgroup.procs && exec \"$0\" \"$@\"";
  test::RunningFault fault("[[targets]]\nname = \"clients\"\ncgroup = \"" + cg.path() + "\"\nmax_targets = 100\n",
                           "type = \"network.delay\"\ntarget = \"clients\"\nlatency = \"300ms\"\nports = [" +
                               std::to_string(server.port()) + "]",
                           probe, {"/bin/sh", "-c", launcher});
  std::string curl = "sh -c 'echo $$ > " + cg.path() + "/cgroup.procs && exec curl -s -o /dev/null -w %{time_total} " +
                     server.url() + "'";
  double seconds = std::stod(test::sh(curl));
  CHECK(seconds >= 0.3);  // the target's client is steered and delayed
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  fault.stop();
  auto j = fault.journal();
  // rebound's probe ran through the fault and never waited for the added 300 ms.
  double worst = 0;
  size_t during = 0;
  for (const auto& s : j["probes"][0]["samples"]) {
    if (s["t_ms"].get<double>() < j["steps"][0]["applied_ms"].get<double>()) continue;
    ++during;
    worst = std::max(worst, s["latency_ms"].get<double>());
  }
  CHECK(during >= 5);
  CHECK(worst < 150.0);
  CHECK(j["steps"][0]["detail"]["connects_affected"] == 1);
}

TEST_CASE("the shipped slow-backend scenarios: retries hide the latency, no retries fail the error budget, both "
          "recover within the SLO",
          "[root][network][proxy][demo]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  auto run = [&](const std::string& name) {
    auto r = test::run_rebound({"run", test::source("scenarios/network/" + name + ".toml"), "--report-dir", dir.path(),
                                "--state-dir", dir.path() + "/state", "--no-history"},
                               120'000);
    INFO(r.out << r.err);
    auto j = test::read_json(dir.path() + "/" + name + "/journal.json");
    j["exit_code_seen"] = r.exit_code;
    return j;
  };
  auto retry = run("slow-backend-retry");
  auto plain = run("slow-backend-no-retry");
  INFO(retry["metrics"].dump() << "\n" << plain["metrics"].dump());
  // The fault reached the frontend's calls to its backend in both runs...
  for (auto* j : {&retry, &plain}) {
    auto detail = (*j)["steps"][0]["detail"];
    CHECK(detail["toxic_connections"].get<int>() > 5);
    CHECK(detail["connections"].get<int>() > detail["toxic_connections"].get<int>());  // toxicity 0.5
    CHECK((*j)["metrics"]["time_to_recover_ms"].get<double>() < 1000);
  }
  // ...the retrying frontend hid it (slower answers, few errors) and the plain one did not.
  CHECK(retry["exit_code_seen"] == 0);
  CHECK(retry["verdict"] == "passed");
  CHECK(retry["metrics"]["phases"]["fault"]["error_ratio"].get<double>() <= 0.25);
  CHECK(retry["metrics"]["phases"]["fault"]["p99_ms"].get<double>() >= 250);
  CHECK(plain["exit_code_seen"] == 1);
  CHECK(plain["verdict"] == "failed");
  CHECK(plain["metrics"]["phases"]["fault"]["error_ratio"].get<double>() > 0.25);
  CHECK(plain["reasons"].dump().find("max_error_ratio") != std::string::npos);
}

TEST_CASE("IPv6: connect6 steers too, and peers match an IPv6 prefix", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), "type = \"network.delay\"\ntarget = \"clients\"\nlatency = \"80ms\"\n"
                                          "peers = [\"" + bed.net.ip6_prefix + "\"]");
  auto v6 = bed.requests(true, 5, 100, false, kPort, bed.net.server_ip6);
  for (const auto& r : v6) CHECK(r["bytes"] == 100);
  double median = quantile(field(v6, "first_ms"), 0.5);
  CHECK(median >= 80.0);
  CHECK(median <= 95.0);
  // The IPv4 address of the same server is outside the prefix: not steered.
  CHECK(quantile(field(bed.requests(true, 5, 100), "first_ms"), 0.5) < 10.0);
  fault.stop();
}

TEST_CASE("a destination that refuses: the steered client sees a reset, the journal counts the failure",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  constexpr int kNobody = 9102;  // nothing listens here
  test::RunningFault fault(bed.targets(), "type = \"network.delay\"\ntarget = \"clients\"\nlatency = \"10ms\"\n"
                                          "ports = [" + std::to_string(kNobody) + "]");
  for (const auto& r : bed.requests(true, 2, 100, false, kNobody)) {
    CHECK(r["end"] == "ECONNRESET");
    CHECK(r["bytes"] == 0);
  }
  CHECK(bed.requests(false, 1, 100, false, kNobody)[0]["end"] == "ECONNREFUSED");
  fault.stop();
  CHECK(fault.journal()["steps"][0]["detail"]["upstream_failures"] == 2);
}

TEST_CASE("dry run loads the steering programs through the verifier and attaches nothing", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::TempDir dir;
  auto file = dir.write("x.toml", "name = \"x\"\n" + bed.targets() +
                                      "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                      "[[method]]\n" + step("type = \"network.delay\"\nlatency = \"10ms\"\nduration = \"5s\""));
  auto r = test::run_rebound({"run", "--dry-run", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("programs loaded through the verifier: ok (not attached)") != std::string::npos);
  CHECK_FALSE(cgroup_has_programs(bed.cg.path()));
}

TEST_CASE("a dual-stack socket connecting to an IPv4-mapped address is steered as IPv4", "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::RunningFault fault(bed.targets(), "type = \"network.delay\"\ntarget = \"clients\"\nlatency = \"80ms\"\n"
                                          "peers = [\"" + bed.net.server_ip + "/32\"]");
  // An AF_INET6 socket to ::ffff:10.199.N.2 (what Java does by default): an IPv4 connection in fact.
  auto mapped = bed.requests(true, 5, 100, false, kPort, "::ffff:" + bed.net.server_ip);
  for (const auto& r : mapped) CHECK(r["bytes"] == 100);
  double median = quantile(field(mapped, "first_ms"), 0.5);
  CHECK(median >= 80.0);
  CHECK(median <= 95.0);
  fault.stop();
  CHECK(fault.journal()["steps"][0]["detail"]["connections"] == 5);
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

TEST_CASE("a connection still in the proxy when its experiment ends is closed then, not when rebound exits",
          "[root][network][proxy]") {
  if (!test::privileged()) return;
  ProxyBed bed;
  test::TempDir dir;
  const std::string probe = "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                            "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n";
  auto a = dir.write("a.toml", "name = \"a\"\n" + bed.targets() + probe + "[[method]]\nname = \"fault\"\n" +
                                   step("type = \"tcp.toxic\"\ntoxic = \"latency\"\nlatency = \"10ms\"\n"
                                        "duration = \"1s\""));
  // B runs long after A: before, A's connection stayed in A's proxy until rebound's exit, after B.
  auto b = dir.write("b.toml", "name = \"b\"\n" + probe + "[[method]]\nname = \"idle\"\ntype = \"wait\"\n"
                                                          "duration = \"15s\"\n");
  std::string log = dir.path() + "/rebound.log";
  test::Child rebound({test::bin("rebound"), "run", a, b, "--report-dir", dir.path() + "/r", "--state-dir",
                       dir.path() + "/state", "--no-progress", "--no-history"},
                      log);
  REQUIRE(test::file_contains_soon(log, ") applied", 15'000));
  // A connection opened under A's fault that the server holds open: the client waits for the close (10 s at most).
  auto r = bed.requests(true, 1, 10, true)[0];
  INFO(test::read_text(log));
  CHECK(r["bytes"] == 10);
  CHECK(r["end"] == "eof");
  // A ends about a second after its step and recovery watch: well before B's 15 s.
  CHECK(r["end_ms"].get<double>() < 8000.0);
  rebound.signal(SIGTERM);
  rebound.wait(20'000);
}
