// Network faults on a process target reach the connections it already holds (issue 15 part 2): a client with
// a pooled TCP connection or a reused UDP socket opened before the step sees the fault, a process outside the
// target talking to the same server does not; proxy faults reset or count those connections; the target stays
// below its own cgroup during the fault and goes back to exactly it. Root only, traffic in TestNet namespaces.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "helpers.hpp"
#include "system/socket_table.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A client that opens one connection (tcp: to an echo server; dns: one UDP socket to a DNS server) and keeps
// using it: a round trip every 50 ms, one line each: "ok MS", "fail" (no answer within the timeout; for dns
// also a send refused), or "reconnect ERROR" (the TCP connection broke; a new one is opened, as a pool does).
const char* kPoolClient = R"(
import socket, struct, sys, time
mode, host, port, timeout, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
name = sys.argv[6] if len(sys.argv) > 6 else 'good.test'
f = open(out, 'a', buffering=1)
def connect():
    s = socket.create_connection((host, port), timeout=5) if mode != 'dns' else socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    return s
s = connect()
if mode == 'bulk':  # writes as fast as it can; one line "ok MBIT" (its rate in Mbit/s) every 250 ms
    chunk, sent, t = b'x' * 65536, 0, time.monotonic()
    s.settimeout(None)
    while True:
        sent += s.send(chunk)
        now = time.monotonic()
        if now - t >= 0.25:
            f.write('ok %.1f\n' % (sent * 8 / (now - t) / 1e6))
            sent, t = 0, now
n = 0
while True:
    n += 1
    t0 = time.monotonic()
    try:
        if mode == 'tcp':
            s.sendall(b'ping %d\n' % n)
            buf = b''
            while not buf.endswith(b'\n'):
                d = s.recv(100)
                if not d: raise ConnectionError('eof')
                buf += d
        else:
            qid = n & 0xffff
            q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
            q += b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\0' + struct.pack('>HH', 1, 1)
            s.sendto(q, (host, port))
            while True:
                a = s.recv(512)
                if struct.unpack('>H', a[:2])[0] == qid: break
        f.write('ok %.1f\n' % ((time.monotonic() - t0) * 1000))
    except socket.timeout:
        f.write('fail\n')
    except OSError as e:
        if mode == 'dns':  # a dropped datagram fails sendto (EPERM): the same socket is used again
            f.write('fail\n')
            time.sleep(0.05)
            continue
        f.write('reconnect %s\n' % e.__class__.__name__)
        time.sleep(0.05)
        s = connect()
    time.sleep(0.05)
)";

struct Tally {
  int ok = 0, fail = 0, reconnect = 0;
  double max_ms = 0, min_ms = 1e9;
};

class PoolClient {
 public:
  PoolClient(const test::TestNet& net, const std::string& mode, const std::string& host, int port, double timeout = 0.3) {
    auto script = dir_.write("pool.py", kPoolClient);
    out_ = dir_.path() + "/out";
    child_ = std::make_unique<test::Child>(net.in(net.client, {"/usr/bin/python3", script, mode, host, std::to_string(port),
                                                               std::to_string(timeout), out_}),
                                           dir_.path() + "/stderr");
    INFO(test::read_text(dir_.path() + "/stderr"));
    REQUIRE(test::wait_for([&] { return tally(0).ok >= 3; }, 10'000));  // its connection is open and working
  }
  pid_t pid() const { return child_->pid(); }
  size_t lines() const { return read().size(); }
  Tally tally(size_t from) const {
    Tally t;
    auto all = read();
    for (size_t i = from; i < all.size(); ++i) {
      if (all[i].starts_with("ok ")) {
        ++t.ok;
        double ms = std::stod(all[i].substr(3));
        t.max_ms = std::max(t.max_ms, ms);
        t.min_ms = std::min(t.min_ms, ms);
      } else if (all[i] == "fail") {
        ++t.fail;
      } else if (all[i].starts_with("reconnect")) {
        ++t.reconnect;
      }
    }
    return t;
  }

 private:
  std::vector<std::string> read() const {
    std::vector<std::string> out;
    std::istringstream in(test::read_text(out_));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    if (!out.empty() && test::read_text(out_).back() != '\n') out.pop_back();  // a line being written
    return out;
  }
  test::TempDir dir_;
  std::string out_;
  std::unique_ptr<test::Child> child_;
};

std::string pid_target(const std::string& name, pid_t pid) {
  return "[[targets]]\nname = \"" + name + "\"\npid = " + std::to_string(pid) + "\n";
}

std::string cgroup_of(pid_t pid) {
  auto text = test::read_text("/proc/" + std::to_string(pid) + "/cgroup");
  auto at = text.find("0::");
  if (at == std::string::npos) return "";
  auto end = text.find('\n', at);
  std::string path = test::cgroup2_root() + text.substr(at + 3, end - at - 3);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::unique_ptr<test::Child> echo_server(const test::TestNet& net, int port) {
  auto server = std::make_unique<test::Child>(
      net.in(net.server, {"socat", "TCP-LISTEN:" + std::to_string(port) + ",reuseaddr,fork", "PIPE"}));
  std::this_thread::sleep_for(300ms);
  return server;
}

}  // namespace

TEST_CASE("sockets of a process: inode, cookie, cgroup and addresses from sock_diag", "[root][network][sockets]") {
  if (!test::privileged()) return;
  test::TestNet net;
  auto server = echo_server(net, 7311);
  PoolClient client(net, "tcp", net.server_ip, 7311);
  auto sockets = rebound::sockets_of({client.pid()});
  REQUIRE(sockets);
  REQUIRE(sockets->size() == 1);
  const auto& s = sockets->front();
  CHECK(s.established_tcp());
  CHECK(s.remote == net.server_ip);
  CHECK(s.remote_port == 7311);
  CHECK(s.cookie != 0);
  struct stat st{};
  REQUIRE(stat(cgroup_of(client.pid()).c_str(), &st) == 0);
  CHECK(s.cgroup_id == st.st_ino);
  CHECK(s.describe().starts_with("tcp " + net.client_ip + ":"));
}

TEST_CASE("a partition or loss on a target reaches its pooled TCP connection, and nobody else's",
          "[root][network][sockets]") {
  if (!test::privileged()) return;
  test::TestNet net;
  auto server = echo_server(net, 7312);
  PoolClient target(net, "tcp", net.server_ip, 7312);
  PoolClient outsider(net, "tcp", net.server_ip, 7312);
  std::string step = GENERATE(as<std::string>{}, "type = \"network.partition\"\ntarget = \"client\"\npeers = [\"",
                              "type = \"network.loss\"\ntarget = \"client\"\nprobability = 1.0\npeers = [\"");
  test::RunningFault fault(pid_target("client", target.pid()), step + net.server_ip + "\"]");
  size_t t0 = target.lines(), o0 = outsider.lines();
  std::this_thread::sleep_for(2s);
  Tally t = target.tally(t0), o = outsider.tally(o0);
  size_t t1 = target.lines();
  fault.stop();
  INFO(step << ": target ok " << t.ok << " fail " << t.fail << "; outsider ok " << o.ok << " fail " << o.fail);
  CHECK(t.ok <= 1);  // a round trip already answered when the step started
  CHECK(t.fail >= 3);
  CHECK(o.fail == 0);
  CHECK(o.ok >= 10);
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["existing_sockets"].get<int>() >= 1);
  CHECK(detail["packets_affected"].get<int>() > 0);
  // The fault is gone: the same connection carries round trips again (after TCP's retransmission backoff).
  CHECK(test::wait_for([&] { return target.tally(t1).ok >= 3; }, 15'000));
  CHECK(target.tally(t0).reconnect == 0);
}

TEST_CASE("dns.fail on a target reaches the UDP socket its resolver reuses, and nobody else's",
          "[root][network][sockets]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir d;
  test::Child dnsmasq(net.in(net.server, {"/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                                          "--listen-address=" + net.server_ip, "--bind-interfaces",
                                          "--address=/good.test/10.1.2.3", "--pid-file=" + d.path() + "/dnsmasq.pid"}),
                      d.path() + "/dnsmasq.log");
  std::this_thread::sleep_for(300ms);
  PoolClient target(net, "dns", net.server_ip, 53);
  PoolClient outsider(net, "dns", net.server_ip, 53);
  test::RunningFault fault(pid_target("resolver", target.pid()),
                           "type = \"dns.fail\"\ntarget = \"resolver\"\ndomain = \"good.test\"\nanswer = \"timeout\"");
  size_t t0 = target.lines(), o0 = outsider.lines();
  std::this_thread::sleep_for(2s);
  Tally t = target.tally(t0), o = outsider.tally(o0);
  size_t t1 = target.lines();
  fault.stop();
  INFO("target ok " << t.ok << " fail " << t.fail << "; outsider ok " << o.ok << " fail " << o.fail);
  CHECK(t.ok <= 1);
  CHECK(t.fail >= 3);
  CHECK(o.fail == 0);
  CHECK(o.ok >= 10);
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["existing_sockets"].get<int>() >= 1);
  CHECK(test::wait_for([&] { return target.tally(t1).ok >= 3; }, 10'000));
}

TEST_CASE("network.delay: existing = \"reset\" sends an open connection through the proxy, keep counts it",
          "[root][network][sockets][proxy]") {
  if (!test::privileged()) return;
  test::TestNet net;
  auto server = echo_server(net, 7313);
  PoolClient target(net, "tcp", net.server_ip, 7313, 3.0);
  bool reset = GENERATE(true, false);
  size_t before = target.lines();  // the reset (at apply) may be seen before the fault is reported applied
  test::RunningFault fault(pid_target("client", target.pid()),
                           std::string("type = \"network.delay\"\ntarget = \"client\"\nports = [7313]\nlatency = "
                                       "\"300ms\"\n") +
                               (reset ? "existing = \"reset\"\n" : ""));
  size_t t0 = target.lines();
  std::this_thread::sleep_for(2s);
  Tally t = target.tally(t0);
  int reconnects = target.tally(before).reconnect;
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO("reset " << reset << ": ok " << t.ok << " reconnect " << reconnects << " min " << t.min_ms << " ms; "
                << detail.dump());
  if (reset) {
    CHECK(detail["existing_connections_reset"] == 1);
    CHECK(reconnects == 1);
    CHECK(t.ok >= 2);
    CHECK(t.min_ms >= 250);  // every round trip after the reconnect goes through the proxy's 300 ms
    CHECK(detail["toxic_connections"].get<int>() >= 1);
  } else {
    CHECK(detail["existing_connections_untouched"] == 1);
    CHECK(reconnects == 0);
    CHECK(t.ok >= 10);
    CHECK(t.max_ms < 250);  // the old connection goes straight to the server
  }
}

TEST_CASE("a process target stays below its own cgroup during a network fault and goes back to exactly it",
          "[root][network][sockets][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup home;
  test::Child sleeper({"/bin/sleep", "120"});
  home.adopt(sleeper.pid());
  REQUIRE(cgroup_of(sleeper.pid()) == home.path());
  test::RunningFault fault(pid_target("svc", sleeper.pid()),
                           "type = \"network.loss\"\ntarget = \"svc\"\nprobability = 1.0\npeers = [\"192.0.2.1\"]");
  std::string during = cgroup_of(sleeper.pid());
  CHECK(during.starts_with(home.path() + "/rebound-"));

  SECTION("after the step") {
    fault.stop();
    CHECK(cgroup_of(sleeper.pid()) == home.path());
    CHECK_FALSE(fs::exists(during));
    CHECK_FALSE(fault.journal()["steps"][0]["detail"].contains("cgroup_warning"));
  }
  SECTION("after SIGKILL of rebound and its guardian: recover") {
    test::kill_guardian(fault.rebound->pid());
    CHECK(fault.stop(SIGKILL) == -SIGKILL);
    CHECK(cgroup_of(sleeper.pid()) == during);
    auto r = test::run_rebound({"recover", "--state-dir", fault.state});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(cgroup_of(sleeper.pid()) == home.path());
    CHECK_FALSE(fs::exists(during));
  }
}

TEST_CASE("a process whose cgroup cannot hold a child cgroup leaves it with a warning in the step's detail",
          "[root][network][sockets][cgroup]") {
  if (!test::privileged()) return;
  test::TestCgroup home;
  test::Child sleeper({"/bin/sleep", "120"});
  home.adopt(sleeper.pid());
  // A threaded child makes `home` a "domain threaded" cgroup: rebound's domain cgroup cannot go inside it.
  std::string threads = home.path() + "/threads";
  fs::create_directory(threads);
  std::ofstream(threads + "/cgroup.type") << "threaded";
  REQUIRE(test::read_text(home.path() + "/cgroup.type").starts_with("domain threaded"));
  test::RunningFault fault(pid_target("svc", sleeper.pid()),
                           "type = \"network.loss\"\ntarget = \"svc\"\nprobability = 1.0\npeers = [\"192.0.2.1\"]");
  CHECK(fs::path(cgroup_of(sleeper.pid())).parent_path().string() == test::cgroup2_root());
  fault.stop();
  CHECK(cgroup_of(sleeper.pid()) == home.path());
  auto warning = fault.journal()["steps"][0]["detail"].value("cgroup_warning", "");
  CHECK(warning == "pid " + std::to_string(sleeper.pid()) + " left its cgroup " + home.path() +
                       " for the fault, because rebound cannot make a cgroup inside it (it is a domain threaded "
                       "cgroup): that cgroup's limits and accounting do not apply to it until the step ends");
  rmdir(threads.c_str());
}

TEST_CASE("message: an existing-connections policy that does not exist", "[unit][validation][messages][proxy]") {
  std::string text = "name = \"t\"\n[[targets]]\nname = \"svc\"\npid = 1\n"
                     "[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
                     "[[method]]\nduration = \"5s\"\ntype = \"network.delay\"\ntarget = \"svc\"\nlatency = \"100ms\"\n"
                     "existing = \"drop\"\n";
  CHECK(test::only_error(text) ==
        "exp.toml:14:12: error: method[0].existing: 'drop' is not a choice: use \"keep\" (connections open before the "
        "step go on without the toxics) or \"reset\" (they are reset at step start, so the target reconnects through "
        "the proxy)");
}

TEST_CASE("the shipped pooled-client scenario: the partition reaches the client's old connection, which heals",
          "[root][network][sockets][demo]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  auto r = test::run_rebound({"run", test::source("scenarios/network/partition-pooled-client.toml"), "--report-dir",
                              dir.path(), "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/partition-pooled-client/journal.json");
  CHECK(j["verdict"] == "passed");
  auto detail = j["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["existing_sockets"] == 1);
  CHECK(detail["packets_affected"].get<int>() > 0);
  CHECK(j["metrics"]["phases"]["fault"]["error_ratio"].get<double>() > 0.5);  // the client felt it
}

TEST_CASE("network.bandwidth on a target polices the TCP connection it opened before the step",
          "[root][network][sockets]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::Child sink(net.in(net.server, {"socat", "TCP-LISTEN:7314,reuseaddr,fork", "SYSTEM:cat >/dev/null"}));
  std::this_thread::sleep_for(300ms);
  PoolClient bulk(net, "bulk", net.server_ip, 7314);  // its "ok" lines carry Mbit/s
  Tally before = bulk.tally(bulk.lines() - 3);
  test::RunningFault fault(pid_target("client", bulk.pid()),
                           "type = \"network.bandwidth\"\ntarget = \"client\"\nrate = \"8mbit\"");
  size_t t0 = bulk.lines();
  std::this_thread::sleep_for(2500ms);
  Tally t = bulk.tally(t0 + 3);  // after the first burst and the queue already in flight
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO("before: " << before.min_ms << "-" << before.max_ms << " Mbit/s; during: " << t.min_ms << "-" << t.max_ms
                  << " Mbit/s; " << detail.dump());
  CHECK(before.min_ms > 40);
  // Policed: every 250 ms it managed while policed was under twice the rate. A hot connection's 64 KiB GSO
  // packets can exceed the bucket outright, so it may also stall (no line at all): both are far below before.
  CHECK((t.ok == 0 || t.max_ms < 8 * 2.0));
  CHECK(detail["existing_sockets"].get<int>() >= 1);
  CHECK(detail["packets_affected"].get<int>() > 0);
}
