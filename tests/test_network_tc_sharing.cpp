// Interface (tc) network faults sharing an interface: tc priority clashes, two rebounds and two steps on one
// interface (the clsact qdisc is removed by its last user), and the lease over repeated trials. Root only;
// traffic stays in the tests' namespaces.
#include <catch2/catch.hpp>
#include <csignal>

#include "helpers.hpp"

namespace {

std::string tc_show(const test::TestNet& net, const std::string& what) {
  return test::sh("tc -netns " + net.client + " " + what);
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string interface_step(const test::TestNet& net, const std::string& interface, const std::string& keys) {
  return "type = \"network.loss\"\ninterface = \"" + interface + "\"\nnetns = \"" + net.client + "\"\n" + keys;
}

// rebound running one experiment with a shared state folder, until the test stops it.
struct Rebound {
  test::TempDir dir;
  std::string log = dir.path() + "/rebound.log";
  std::unique_ptr<test::Child> child;

  Rebound(const std::string& state, const std::string& method) {
    auto file = dir.write("x.toml", "name = \"x\"\n[[probes]]\nname = \"always\"\ntype = \"command\"\nargv = "
                                    "[\"/bin/true\"]\ninterval = \"100ms\"\n[steady_state]\nwindow = \"200ms\"\n" +
                                        method);
    child = std::make_unique<test::Child>(std::vector<std::string>{test::bin("rebound"), "run", file, "--report-dir",
                                                                   dir.path() + "/r", "--state-dir", state,
                                                                   "--no-progress"},
                                          log);
  }
  void wait_applied(int steps = 1) {
    bool ok = test::wait_for([&] { return count(test::read_text(log), ") applied") >= static_cast<size_t>(steps) ||
                                          !child->alive(); },
                             20'000);
    INFO(test::read_text(log));
    REQUIRE(ok);
    REQUIRE(child->alive());
  }
  nlohmann::json journal() const { return test::read_json(dir.path() + "/r/x/journal.json"); }
};

std::string held_step(const std::string& name, const std::string& step) {
  return "[[method]]\nname = \"" + name + "\"\n" + step + "\nduration = \"60s\"\n";
}

}  // namespace

TEST_CASE("tc: a priority held by another filter is skipped, at preflight and at attach", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  // A filter of another kind at tc's default first priority, 0xc000, which rebound starts from (it matches
  // nothing here: a match would end classification before rebound's filter).
  tc_show(net, "qdisc add dev " + net.client_if + " clsact");
  tc_show(net, "filter add dev " + net.client_if +
                   " egress pref 49152 protocol ip u32 match ip dst 192.0.2.99/32 classid 1:1");
  test::RunningFault fault("", interface_step(net, net.client_if, "direction = \"egress\"\nprobability = 1.0\n"
                                                                  "protocol = \"udp\""));
  CHECK(test::read_text(fault.log).find("1 of rebound's tc egress priorities are held by other filters") !=
        std::string::npos);
  auto filters = tc_show(net, "filter show dev " + net.client_if + " egress");
  CHECK(filters.find("pref 49152 u32") != std::string::npos);
  CHECK(filters.find("pref 49153 bpf") != std::string::npos);
  test::TempDir d;
  test::Child sink(net.tool(net.server, {"udp-sink", "9000", "300"}), d.path() + "/sink");
  REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
  test::Child sender(net.tool(net.client, {"udp-send", net.server_ip, "9000", "100", "50", "100"}), d.path() + "/s");
  REQUIRE(sender.wait(20'000) == 0);
  sink.wait(15'000);
  INFO(test::read_text(d.path() + "/sink") << tc_show(net, "-s filter show dev " + net.client_if + " egress"));
  CHECK(test::read_text(d.path() + "/sink").find("\"received\": 0,") != std::string::npos);
  CHECK(fault.stop() == 3);
  // rebound took its own filter away and left the other one, and the qdisc it did not add.
  filters = tc_show(net, "filter show dev " + net.client_if + " egress");
  CHECK(filters.find("u32") != std::string::npos);
  CHECK(filters.find("bpf") == std::string::npos);
  CHECK(tc_show(net, "qdisc show dev " + net.client_if).find("clsact") != std::string::npos);
}

TEST_CASE("tc: two rebounds on one interface, recover for a killed one leaves the other's filter, the last removes "
          "the qdisc",
          "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir state;
  const std::string egress = "filter show dev " + net.client_if + " egress";
  Rebound a(state.path(), held_step("a", interface_step(net, net.client_if, "direction = \"egress\"\nprobability = "
                                                                           "1.0\nprotocol = \"udp\"\nports = [9000]")));
  a.wait_applied();
  Rebound b(state.path(), held_step("b", interface_step(net, net.client_if, "direction = \"egress\"\nprobability = "
                                                                           "1.0\nprotocol = \"udp\"\nports = [9001]")));
  b.wait_applied();
  REQUIRE(count(tc_show(net, egress), " name netfault_tc_egr") == 2);
  test::kill_guardian(a.child->pid());  // both die: only `rebound recover` is left for A's filter
  a.child->signal(SIGKILL);
  REQUIRE(a.child->wait(10'000));
  auto r = test::run_rebound({"recover", "--state-dir", state.path()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("recover: 1 undone, 1 left to a running rebound, 0 failed") != std::string::npos);
  CHECK(r.out.find("removed tc egress filter") != std::string::npos);
  CHECK(r.out.find("left the clsact qdisc rebound added: 1 running step(s) still use it") != std::string::npos);
  CHECK(r.err.find("Cannot find specified filter chain") == std::string::npos);  // libbpf's own lines
  CHECK(r.out.find("Cannot find specified filter chain") == std::string::npos);
  // B's filter is intact, and still drops what it should.
  auto filters = tc_show(net, egress);
  CHECK(count(filters, " name netfault_tc_egr") == 1);
  test::TempDir d;
  for (int port : {9000, 9001}) {
    test::Child sink(net.tool(net.server, {"udp-sink", std::to_string(port), "300"}), d.path() + "/sink");
    REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
    test::Child sender(net.tool(net.client, {"udp-send", net.server_ip, std::to_string(port), "50", "50", "100"}));
    REQUIRE(sender.wait(20'000) == 0);
    sink.wait(15'000);
    auto text = test::read_text(d.path() + "/sink");
    CHECK(nlohmann::json::parse(text.substr(text.find('{')))["received"].get<int>() == (port == 9000 ? 50 : 0));
  }
  // B ends last: its filter goes, and the clsact qdisc that A added goes with it.
  b.child->signal(SIGTERM);
  CHECK(b.child->wait(15'000) == 3);
  CHECK(tc_show(net, egress).empty());
  CHECK(tc_show(net, "qdisc show dev " + net.client_if).find("clsact") == std::string::npos);
}

TEST_CASE("tc: two overlapping steps of one rebound on one interface leave no clsact qdisc", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir state;
  Rebound run(state.path(), "[[method]]\nname = \"loss\"\n" +
                                interface_step(net, net.client_if, "probability = 0.5") +
                                "\nduration = \"2s\"\nallow_no_effect = true\n[[method]]\nname = \"dup\"\n"
                                "type = \"network.duplicate\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" +
                                net.client + "\"\nprobability = 0.5\nstart = \"1s\"\nduration = \"2s\"\n"
                                "allow_no_effect = true\n");  // no traffic: the qdisc is the test
  REQUIRE(run.child->wait(60'000) == 0);
  INFO(test::read_text(run.log));
  CHECK(run.journal()["steps"][1]["detail"]["created_clsact"] == false);  // the first step had added it
  CHECK(tc_show(net, "qdisc show dev " + net.client_if).find("clsact") == std::string::npos);
}

TEST_CASE("tc: an interface fault lasts its whole duration on every trial of a repeated experiment",
          "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir dir;
  // The probe sends 20 datagrams through the faulty interface every 100 ms: what the step dropped shows how
  // long it acted.
  dir.write("x.toml", "name = \"x\"\n[[probes]]\nname = \"traffic\"\ntype = \"command\"\nargv = [\"" +
                          test::bin("rebound-nettool") + "\", \"--netns\", \"" + net.client + "\", \"udp-send\", \"" +
                          net.server_ip + "\", \"9000\", \"20\", \"16\", \"0\"]\ninterval = \"100ms\"\n"
                          "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"loss\"\n" +
                          interface_step(net, net.client_if, "direction = \"egress\"\nprobability = 1.0") +
                          "\nduration = \"4s\"\n");
  auto suite = dir.write("suite.toml", "name = \"s\"\n[[groups]]\nname = \"g\"\nmode = \"serial\"\n"
                                       "[[groups.experiments]]\nfile = \"x.toml\"\nrepeat = 2\n");
  auto r = test::run_rebound({"gameday", suite, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s",
                              "--no-history"},
                             120'000);
  INFO(r.out << r.err);
  auto affected = [&](int trial) {
    auto j = test::read_json(dir.path() + "/r/x/trial-" + std::to_string(trial) + "/journal.json");
    return j["steps"][0]["detail"]["packets_affected"].get<double>();
  };
  double first = affected(1), second = affected(2);
  INFO("trial 1 dropped " << first << ", trial 2 " << second);
  CHECK(first > 200);
  CHECK(second >= 0.75 * first);  // with a lapsed lease, trial 2 acted for 2 s of its 4
}
