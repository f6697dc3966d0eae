// Steering into rebound's proxy: whose connections are steered (IPv4, IPv6, IPv4-mapped; never rebound's own),
// what happens when rebound dies or a destination refuses, dry runs, the shipped slow-backend scenarios, and
// connections still open when an experiment ends. Root only.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <thread>

#include "proxy_bed.hpp"

using namespace proxy_test;

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
