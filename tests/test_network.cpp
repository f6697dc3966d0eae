// eBPF network faults on the real kernel, between network namespaces the tests make. Root only.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <memory>

#include "helpers.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kTrueProbe =
    "[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n";

struct UdpResult {
  int sent = 0;
  nlohmann::json sink;
  double loss() const { return 1.0 - sink["unique"].get<double>() / sent; }
};

// Sends `count` numbered datagrams from the client namespace (inside `cgroup` if given) to `to`.
UdpResult udp_run(const test::TestNet& net, const std::string& to, int count, const std::string& cgroup = "") {
  test::TempDir d;
  test::Child sink(net.tool(net.server, {"udp-sink", "9000", "400"}), d.path() + "/sink");
  REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
  test::Child sender(net.tool(net.client, {"udp-send", to, "9000", std::to_string(count), "200", "50"}, cgroup),
                     d.path() + "/send");
  REQUIRE(sender.wait(60'000) == 0);
  REQUIRE(sink.wait(15'000) == 0);
  auto text = test::read_text(d.path() + "/sink");
  UdpResult r;
  r.sent = count;
  r.sink = nlohmann::json::parse(text.substr(text.find('{')));
  return r;
}

std::string connect_from(const test::TestNet& net, const std::string& cgroup, const std::string& to, int port) {
  test::TempDir d;
  test::Child c(net.tool(net.client, {"connect", to, std::to_string(port)}, cgroup), d.path() + "/out");
  REQUIRE(c.wait(10'000) == 0);
  auto out = test::read_text(d.path() + "/out");
  return out.substr(0, out.find('\n'));
}

std::string cgroup_target(const test::TestCgroup& cg) {
  return "[[targets]]\nname = \"clients\"\ncgroup = \"" + cg.path() + "\"\nmax_targets = 100\n";
}

bool cgroup_has_programs(const std::string& path) {
  auto out = test::sh("bpftool cgroup list " + path);
  return out.find("netfault") != std::string::npos;
}

std::string tc_filters(const test::TestNet& net) {
  return test::sh("tc -netns " + net.client + " filter show dev " + net.client_if + " ingress; tc -netns " + net.client +
                  " filter show dev " + net.client_if + " egress");
}

}  // namespace

TEST_CASE("network.loss on a cgroup drops the declared share of its packets and nobody else's", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TestCgroup cg;
  test::Child anchor({"/bin/sleep", "120"});  // the target must match a process when the step starts
  cg.adopt(anchor.pid());
  for (double p : {0.1, 0.3, 1.0}) {
    DYNAMIC_SECTION("probability " << p) {
      test::RunningFault fault(cgroup_target(cg), "type = \"network.loss\"\ntarget = \"clients\"\ndirection = \"egress\"\n"
                                            "probability = " + std::to_string(p));
      REQUIRE(cgroup_has_programs(cg.path()));
      const int count = 4000;
      auto inside = udp_run(net, net.server_ip, count, cg.path());
      auto outside = udp_run(net, net.server_ip, count);
      // 4000 datagrams: the binomial standard deviation is at most 0.8%; allow 4%.
      CHECK(inside.loss() == Approx(p).margin(0.04));
      CHECK(outside.loss() == 0);
      CHECK(fault.stop() == 3);
      // SIGTERM reverted it: the programs are gone and the same cgroup's traffic flows again.
      CHECK_FALSE(cgroup_has_programs(cg.path()));
      CHECK(udp_run(net, net.server_ip, 500, cg.path()).loss() == 0);
      auto j = fault.journal();
      CHECK(j["steps"][0]["detail"]["packets_affected"].get<double>() ==
            Approx(p * count).margin(0.04 * count + 1));
    }
  }
}

TEST_CASE("network.loss on an interface, SIGKILL of rebound: the deadline switches it off, recover removes it",
          "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::RunningFault fault("", "type = \"network.loss\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" + net.client +
                             "\"\ndirection = \"egress\"\nprobability = 0.3\nprotocol = \"udp\"");
  CHECK(tc_filters(net).find("netfault_tc_egr") != std::string::npos);
  CHECK(udp_run(net, net.server_ip, 4000).loss() == Approx(0.3).margin(0.04));
  CHECK(fault.records() == 1);
  test::kill_guardian(fault.rebound->pid());  // both die: only the lease and `rebound recover` are left
  fault.stop(SIGKILL);
  // The filter outlives rebound (netlink), but its lease runs out within 2 s.
  CHECK(tc_filters(net).find("netfault_tc_egr") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(udp_run(net, net.server_ip, 2000).loss() == 0);
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("removed tc egress filter") != std::string::npos);
  CHECK(r.out.find("removed the clsact qdisc rebound had added") != std::string::npos);
  CHECK(tc_filters(net).empty());
  CHECK(test::sh("tc -netns " + net.client + " qdisc show dev " + net.client_if).find("clsact") == std::string::npos);
  CHECK(fault.records() == 0);
}

TEST_CASE("SIGKILL of rebound: a cgroup fault is gone at once with it", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TestCgroup cg;
  test::Child anchor({"/bin/sleep", "120"});
  cg.adopt(anchor.pid());
  test::RunningFault fault(cgroup_target(cg), "type = \"network.loss\"\ntarget = \"clients\"\nprobability = 1.0");
  CHECK(udp_run(net, net.server_ip, 200, cg.path()).loss() == 1.0);
  fault.stop(SIGKILL);
  CHECK_FALSE(cgroup_has_programs(cg.path()));
  CHECK(udp_run(net, net.server_ip, 1000, cg.path()).loss() == 0);
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  CHECK(r.out.find("recover: 0 undone, 0 left to a running rebound, 0 failed") != std::string::npos);
}

TEST_CASE("network.partition cuts off exactly the listed peers", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TestCgroup cg;
  test::Child anchor({"/bin/sleep", "120"});
  cg.adopt(anchor.pid());
  test::RunningFault fault(cgroup_target(cg), "type = \"network.partition\"\ntarget = \"clients\"\npeers = [\"" +
                                            net.server_ip + "/32\"]");
  CHECK(udp_run(net, net.server_ip, 300, cg.path()).loss() == 1.0);
  CHECK(udp_run(net, net.server_ip2, 1000, cg.path()).loss() == 0);  // the same host's other address is not listed
  CHECK(udp_run(net, net.server_ip, 1000).loss() == 0);               // nor is anyone outside the cgroup cut off
  fault.stop();
}

TEST_CASE("network.refuse fails connect() with the chosen errno, only for the target", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir d;
  test::Child server(net.tool(net.server, {"tcp-sink", "7000"}), d.path() + "/sink");
  REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
  test::TestCgroup cg;
  test::Child anchor({"/bin/sleep", "120"});
  cg.adopt(anchor.pid());
  for (const char* err : {"ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH"}) {
    DYNAMIC_SECTION(err) {
      test::RunningFault fault(cgroup_target(cg), std::string("type = \"network.refuse\"\ntarget = \"clients\"\nerrno = \"") +
                                                err + "\"\nports = [7000]");
      CHECK(connect_from(net, cg.path(), net.server_ip, 7000) == err);
      CHECK(connect_from(net, "", net.server_ip, 7000) == "OK");  // outside the cgroup
      fault.stop();
    }
  }
}

TEST_CASE("network.refuse on a process target moves it into a cgroup of its own and back", "[root][network]") {
  if (!test::privileged()) return;
  test::TestCgroup home;
  test::Child victim({"/bin/sleep", "120"});
  home.adopt(victim.pid());
  test::RunningFault fault("[[targets]]\nname = \"victim\"\npid = " + std::to_string(victim.pid()) + "\n",
                     "type = \"network.refuse\"\ntarget = \"victim\"");
  auto during = test::read_text("/proc/" + std::to_string(victim.pid()) + "/cgroup");
  CHECK(during.find("rebound-") != std::string::npos);
  CHECK(fault.records() == 1);
  fault.stop();
  auto after = test::read_text("/proc/" + std::to_string(victim.pid()) + "/cgroup");
  CHECK(after.find(home.path().substr(home.path().rfind('/'))) != std::string::npos);
  CHECK(fault.records() == 0);
  auto created = fault.journal()["steps"][0]["detail"]["cgroup"].get<std::string>();
  CHECK_FALSE(fs::exists(created));
}

TEST_CASE("network.corrupt damages the declared share of payloads at the receiver", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::RunningFault fault("", "type = \"network.corrupt\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" + net.client +
                             "\"\ndirection = \"egress\"\nprobability = 0.2");
  auto r = udp_run(net, net.server_ip, 4000);
  double corrupted = r.sink["corrupted"].get<double>() / r.sent;
  CHECK(corrupted == Approx(0.2).margin(0.04));
  CHECK(r.sink["received"].get<int>() == r.sent);  // damaged, not dropped: the checksum still matches
  fault.stop();
}

TEST_CASE("network.duplicate delivers the declared share of packets twice", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::RunningFault fault("", "type = \"network.duplicate\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" +
                             net.client + "\"\ndirection = \"egress\"\nprobability = 0.5");
  auto r = udp_run(net, net.server_ip, 4000);
  CHECK(r.sink["unique"].get<int>() == r.sent);
  CHECK(r.sink["duplicates"].get<double>() / r.sent == Approx(0.5).margin(0.05));
  fault.stop();
}

TEST_CASE("network.bandwidth holds a TCP stream near the declared rate", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TestCgroup cg;
  test::Child anchor({"/bin/sleep", "120"});
  cg.adopt(anchor.pid());
  test::RunningFault fault(cgroup_target(cg), "type = \"network.bandwidth\"\ntarget = \"clients\"\ndirection = \"egress\"\n"
                                        "rate = \"16mbit\"");
  test::TempDir d;
  test::Child sink(net.tool(net.server, {"tcp-sink", "7100"}), d.path() + "/sink");
  REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
  test::Child sender(net.tool(net.client, {"tcp-send", net.server_ip, "7100", "4"}, cg.path()), d.path() + "/send");
  REQUIRE(sender.wait(30'000) == 0);
  REQUIRE(sink.wait(30'000) == 0);
  auto text = test::read_text(d.path() + "/sink");
  auto j = nlohmann::json::parse(text.substr(text.find('{')));
  double mbit = j["bytes"].get<double>() * 8 / j["seconds"].get<double>() / 1e6;
  INFO("measured " << mbit << " Mbit/s");
  // A policer makes TCP settle below the rate: within 25% under it, never meaningfully over.
  CHECK(mbit <= 16 * 1.15);  // the first burst and the bounded debt, spread over 4 s
  CHECK(mbit >= 16 * 0.75);
  fault.stop();
}

TEST_CASE("dns.fail answers matching names with NXDOMAIN and lets other names resolve", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir d;
  test::Child dnsmasq(net.in(net.server, {"/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                                          "--listen-address=" + net.server_ip, "--bind-interfaces",
                                          "--address=/good.test/10.1.2.3", "--address=/bad.test/10.1.2.4", "--address=/notbad.test/10.1.2.5",
                                          "--pid-file=" + d.path() + "/dnsmasq.pid"}),
                      d.path() + "/dnsmasq.log");
  auto query = [&](const std::string& name, const std::string& cgroup = "") {
    test::TempDir q;
    test::Child c(net.tool(net.client, {"dns", net.server_ip, name, "1000"}, cgroup), q.path() + "/out");
    REQUIRE(c.wait(10'000) == 0);
    auto out = test::read_text(q.path() + "/out");
    return out.substr(0, out.find('\n'));
  };
  REQUIRE(test::wait_for([&] { return query("good.test") == "0"; }, 5000));
  CHECK(query("www.bad.test") == "0");

  SECTION("on an interface: NXDOMAIN and SERVFAIL") {
    for (auto [answer, rcode] : {std::pair{"nxdomain", "3"}, {"servfail", "2"}}) {
      test::RunningFault fault("", "type = \"dns.fail\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" + net.client +
                                 "\"\ndomain = \"*.bad.test\"\nanswer = \"" + answer + "\"");
      CHECK(query("www.bad.test") == rcode);
      CHECK(query("bad.test") == rcode);
      CHECK(query("WWW.Bad.Test") == rcode);
      CHECK(query("good.test") == "0");
      CHECK(query("notbad.test") == "0");
      fault.stop();
      CHECK(query("www.bad.test") == "0");
    }
  }
  SECTION("on a cgroup: no answer, only for the target") {
    test::TestCgroup cg;
    test::Child anchor({"/bin/sleep", "120"});
    cg.adopt(anchor.pid());
    test::RunningFault fault(cgroup_target(cg), "type = \"dns.fail\"\ntarget = \"clients\"\ndomain = \"bad.test\"\nanswer = "
                                          "\"timeout\"");
    CHECK(query("bad.test", cg.path()) == "timeout");
    CHECK(query("good.test", cg.path()) == "0");
    CHECK(query("bad.test") == "0");
    fault.stop();
  }
}

TEST_CASE("a network step the host cannot do is refused before anything runs", "[root][network]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  auto marker = dir.path() + "/setup-ran";
  auto file = dir.write("x.toml", "name = \"x\"\n" + kTrueProbe + "[[setup]]\nargv = [\"/usr/bin/touch\", \"" + marker +
                                      "\"]\n[[method]]\ntype = \"network.loss\"\ninterface = \"lo\"\nprobability = "
                                      "0.5\nduration = \"1s\"\nallow_no_effect = true\n");
  // As an unprivileged user the programs cannot load: the run stops at preflight.
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s"});
  CHECK(r.exit_code == 0);  // as root it can: loss on lo for a second, verdict passed
  fs::permissions(dir.path(), fs::perms::all);
  test::TempDir io;
  fs::permissions(io.path(), fs::perms::all);
  test::Child unprivileged({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", test::bin("rebound"),
                            "run", file, "--report-dir", io.path() + "/r", "--state-dir", io.path() + "/s",
                            "--no-progress"},
                           io.path() + "/log");
  CHECK(unprivileged.wait(30'000) == 4);
  fs::remove(marker);
  CHECK(test::read_text(io.path() + "/log").find("step 'network.loss#0' (network.loss) cannot run on this host: needs "
                                                 "root") != std::string::npos);
  CHECK_FALSE(fs::exists(marker));  // setup never ran
}

TEST_CASE("the shipped network scenario: the partition is felt, recovery is measured, the verdict passes",
          "[root][network][demo]") {
  if (!test::privileged()) return;
  const bool clsact_before = test::sh("tc qdisc show dev lo").find("clsact") != std::string::npos;
  test::TempDir dir;
  auto r = test::run_rebound({"run", test::source("scenarios/network/partition-demo-service.toml"), "--report-dir",
                              dir.path(), "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/network-partition-demo/journal.json");
  CHECK(j["verdict"] == "passed");
  // Every sample during the 3 s partition failed, and recovery came within the 1 s objective.
  CHECK(j["metrics"]["phases"]["fault"]["error_ratio"].get<double>() > 0.9);
  CHECK(j["metrics"]["time_to_recover_ms"].get<double>() < 1000);
  CHECK(j["steps"][0]["detail"]["packets_affected"].get<int>() > 0);
  // Nothing is left on lo: no filter, and no clsact unless one was there before.
  CHECK(test::sh("tc filter show dev lo ingress; tc filter show dev lo egress").empty());
  CHECK((test::sh("tc qdisc show dev lo").find("clsact") != std::string::npos) == clsact_before);
}

TEST_CASE("SIGKILL during a fault on a process target: recover moves it back and removes rebound's cgroup",
          "[root][network]") {
  if (!test::privileged()) return;
  test::TestCgroup home;
  test::Child victim({"/bin/sleep", "120"});
  home.adopt(victim.pid());
  const std::string cgroup_file = "/proc/" + std::to_string(victim.pid()) + "/cgroup";
  test::RunningFault fault("[[targets]]\nname = \"victim\"\npid = " + std::to_string(victim.pid()) + "\n",
                     "type = \"network.loss\"\ntarget = \"victim\"\nprobability = 1.0");
  auto during = test::read_text(cgroup_file);
  REQUIRE(during.find("rebound-") != std::string::npos);
  const std::string created = test::cgroup2_root() + during.substr(during.find("::") + 2, during.find('\n') -
                                                                                                  during.find("::") - 2);
  test::kill_guardian(fault.rebound->pid());  // both die: only `rebound recover` is left
  fault.stop(SIGKILL);
  CHECK(test::read_text(cgroup_file) == during);  // nobody moved it back yet
  auto r = test::run_rebound({"recover", "--state-dir", fault.state});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("moved the processes back to " + home.path()) != std::string::npos);
  CHECK(test::read_text(cgroup_file).find(home.path().substr(home.path().rfind('/'))) != std::string::npos);
  CHECK_FALSE(fs::exists(created));
  CHECK(fault.records() == 0);
}

TEST_CASE("dry run loads the network programs through the verifier and attaches nothing", "[root][network]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir dir;
  auto file = dir.write("x.toml", "name = \"x\"\n" + kTrueProbe + "[[method]]\ntype = \"network.duplicate\"\ninterface = \"" +
                                      net.client_if + "\"\nnetns = \"" + net.client +
                                      "\"\nprobability = 0.5\nduration = \"5s\"\n");
  auto r = test::run_rebound({"run", "--dry-run", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("programs loaded through the verifier: ok (not attached)") != std::string::npos);
  CHECK(tc_filters(net).empty());
  CHECK(test::sh("tc -netns " + net.client + " qdisc show dev " + net.client_if).find("clsact") == std::string::npos);
}
