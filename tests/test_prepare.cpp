// Faults that switch on in microseconds (issue 15 part 5): a network step attaches its programs before the
// method starts, switched off, and its start is one store; a prepared step is on record like an applied one.
#include <catch2/catch.hpp>
#include <csignal>

#include "helpers.hpp"
#include "proxy_bed.hpp"

namespace {

// Datagrams from the client namespace to the server's port 9000 that arrived, out of `count`.
double delivered(const test::TestNet& net, int count) {
  test::TempDir d;
  test::Child sink(net.tool(net.server, {"udp-sink", "9000", "400"}), d.path() + "/sink");
  REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
  test::Child sender(net.tool(net.client, {"udp-send", net.server_ip, "9000", std::to_string(count), "200", "200"}),
                     d.path() + "/send");
  REQUIRE(sender.wait(60'000) == 0);
  REQUIRE(sink.wait(15'000) == 0);
  auto text = test::read_text(d.path() + "/sink");
  return nlohmann::json::parse(text.substr(text.find('{')))["unique"].get<double>() / count;
}

std::string loss_experiment(const test::TestNet& net, const std::string& start, const std::string& duration) {
  return "name = \"armed\"\n[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
         "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n[slo]\nstable_for = \"200ms\"\n"
         "[[method]]\nname = \"drop\"\ntype = \"network.loss\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" +
         net.client + "\"\ndirection = \"egress\"\nprotocol = \"udp\"\nports = [9000]\nprobability = 1.0\n"
         "start = \"" + start + "\"\nduration = \"" + duration + "\"\n";
}

std::string egress_filters(const test::TestNet& net) {
  return test::sh("tc -netns " + net.client + " filter show dev " + net.client_if + " egress");
}

}  // namespace

TEST_CASE("a network step is attached switched off before its start, and recover undoes it if rebound dies then",
          "[root][effect][prepare]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir dir;
  auto file = dir.write("x.toml", loss_experiment(net, "60s", "1s"));
  const std::string state = dir.path() + "/s", log = dir.path() + "/log";
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", dir.path() + "/r", "--state-dir", state,
                       "--no-progress"},
                      log);
  REQUIRE(test::wait_for([&] { return egress_filters(net).find("netfault") != std::string::npos; }, 15'000));
  INFO(test::read_text(log));
  CHECK(test::read_text(log).find("applied") == std::string::npos);
  // Attached, switched off: everything gets through.
  CHECK(delivered(net, 200) == 1.0);
  // rebound and its guardian die before the step's start: the record of the prepared step is there for recover.
  test::kill_guardian(rebound.pid());
  rebound.signal(SIGKILL);
  REQUIRE(rebound.wait(5000) == -SIGKILL);
  auto r = test::run_rebound({"recover", "--state-dir", state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("recover: 1 undone") != std::string::npos);
  CHECK(egress_filters(net).find("netfault") == std::string::npos);
}

TEST_CASE("a prepared network step acts from its start to its end, and the journal's times are the switches",
          "[root][effect][prepare]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir dir;
  auto file = dir.write("x.toml", loss_experiment(net, "0s", "3s"));
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", dir.path() + "/r", "--state-dir",
                       dir.path() + "/s", "--no-progress"},
                      dir.path() + "/log");
  REQUIRE(test::file_contains_soon(dir.path() + "/log", "applied", 15'000));
  CHECK(delivered(net, 200) == 0.0);
  REQUIRE(rebound.wait(30'000) == 0);
  CHECK(delivered(net, 200) == 1.0);
  auto j = test::read_json(dir.path() + "/r/armed/journal.json");
  const auto& s = j["steps"][0];
  INFO(s.dump(1));
  CHECK(s["detail"]["packets_affected"].get<int>() >= 200);
  CHECK(s["prepared_ms"].get<double>() <= s["started_ms"].get<double>());
  CHECK(s["started_ms"].get<double>() <= s["applied_ms"].get<double>());
  // The start is one store: far below the milliseconds an attach takes (generous for a loaded machine).
  CHECK(s["applied_ms"].get<double>() - s["started_ms"].get<double>() < 20);
}

// The proxy faults (network.delay, tcp.toxic) prepare too: the proxy listens and the connect hooks are on the
// target's cgroup before the method starts, and they steer nothing until the step's start switches them on.
namespace {

std::string delay_experiment(const proxy_test::ProxyBed& bed, const std::string& start, const std::string& duration) {
  return "name = \"prepared\"\n" + bed.targets() +
         "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n"
         "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"delay\"\n" +
         proxy_test::step("type = \"network.delay\"\nlatency = \"100ms\"\nstart = \"" + start + "\"\nduration = \"" +
                          duration + "\"\n");
}

// rebound's TCP listeners on loopback in the client namespace (the proxy's).
bool proxy_listening(const proxy_test::ProxyBed& bed) {
  return test::sh("ip netns exec " + bed.net.client + " ss -ltnpH").find("rebound") != std::string::npos;
}

}  // namespace

TEST_CASE("a prepared network.delay steers nothing before its start, delays from its start, and switches on at once",
          "[root][effect][prepare][proxy]") {
  if (!test::privileged()) return;
  proxy_test::ProxyBed bed;
  auto file = bed.dir.write("x.toml", delay_experiment(bed, "6s", "3s"));
  const std::string log = bed.dir.path() + "/log", reports = bed.dir.path() + "/r";
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", reports, "--state-dir",
                       bed.dir.path() + "/state", "--no-progress"},
                      log);
  REQUIRE(test::wait_for([&] { return proxy_test::cgroup_has_programs(bed.cg.path()); }, 15'000));
  CHECK(proxy_listening(bed));
  // Attached, switched off: the clients' connections go straight to the server, with no added delay.
  auto before = bed.requests(true, 5, 100);
  INFO(test::read_text(log));
  REQUIRE(test::read_text(log).find("applied") == std::string::npos);  // else the step started too early to tell
  for (const auto& r : before) CHECK(r["bytes"] == 100);
  CHECK(proxy_test::quantile(proxy_test::field(before, "first_ms"), 0.5) < 10.0);
  // From the step's start: delayed.
  REQUIRE(test::file_contains_soon(log, "applied", 15'000));
  auto during = bed.requests(true, 5, 100);
  CHECK(proxy_test::quantile(proxy_test::field(during, "first_ms"), 0.5) >= 100.0);
  REQUIRE(rebound.wait(30'000) == 0);
  CHECK_FALSE(proxy_test::cgroup_has_programs(bed.cg.path()));
  auto j = test::read_json(reports + "/prepared/journal.json");
  const auto& s = j["steps"][0];
  INFO(s.dump(1));
  // Only the connections made after the switch were steered: the ones before went to the server directly.
  CHECK(s["detail"]["connections"] == 5);
  CHECK(s["detail"]["connects_affected"] == 5);
  CHECK(s["prepared_ms"].get<double>() <= s["started_ms"].get<double>());
  CHECK(s["started_ms"].get<double>() <= s["applied_ms"].get<double>());
  // The start is one store, not a proxy start and an attach (generous for a loaded machine).
  CHECK(s["applied_ms"].get<double>() - s["started_ms"].get<double>() < 20);
}

TEST_CASE("a prepared tcp.toxic that never starts leaves no hook, no listener and no record behind",
          "[root][effect][prepare][proxy]") {
  if (!test::privileged()) return;
  proxy_test::ProxyBed bed;
  auto file = bed.dir.write("x.toml", "name = \"prepared\"\n" + bed.targets() +
                                          "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                          "interval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n[[method]]\n"
                                          "name = \"cut\"\n" +
                                          proxy_test::step("type = \"tcp.toxic\"\ntoxic = \"timeout\"\n"
                                                           "after = \"100ms\"\nstart = \"60s\"\nduration = \"1s\"\n"));
  const std::string state = bed.dir.path() + "/state", log = bed.dir.path() + "/log";
  test::Child rebound({test::bin("rebound"), "run", file, "--report-dir", bed.dir.path() + "/r", "--state-dir", state,
                       "--no-progress"},
                      log);
  REQUIRE(test::wait_for([&] { return proxy_test::cgroup_has_programs(bed.cg.path()); }, 15'000));
  CHECK(proxy_listening(bed));
  for (const auto& r : bed.requests(true, 3, 100)) {  // switched off: no timeout toxic
    CHECK(r["bytes"] == 100);
    CHECK(r["end"] == "eof");
  }
  rebound.signal(SIGTERM);
  rebound.wait(15'000);
  INFO(test::read_text(log));
  CHECK_FALSE(proxy_test::cgroup_has_programs(bed.cg.path()));
  CHECK_FALSE(proxy_listening(bed));
  auto r = test::run_rebound({"recover", "--state-dir", state});
  INFO(r.out << r.err);
  CHECK(r.out.find("recover: 0 undone") != std::string::npos);
  auto j = test::read_json(bed.dir.path() + "/r/prepared/journal.json");
  CHECK(j["steps"][0]["status"] == "skipped");
  CHECK(j["steps"][0]["detail"]["connections"] == 0);
}
