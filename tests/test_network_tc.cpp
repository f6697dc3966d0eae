// Interface (tc) network faults: what the packet path reads (tun, IPv6 extension headers, fragments),
// the token bucket at high packet rates, clones and firewall marks, the lease over repeated trials, tc
// priority clashes, and two rebounds sharing one interface. Root only; traffic stays in the tests' namespaces.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "helpers.hpp"

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

namespace {

// A socket made inside a test namespace (it stays there, whichever thread uses it later).
int socket_in(const std::string& netns, int domain, int type) {
  int fd = -1;
  std::thread([&] {
    int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns >= 0 && setns(ns, CLONE_NEWNET) == 0) fd = socket(domain, type | SOCK_CLOEXEC, 0);
    if (ns >= 0) close(ns);
  }).join();
  REQUIRE(fd >= 0);
  return fd;
}

sockaddr_in6 address6(const std::string& ip, int port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  REQUIRE(inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr) == 1);
  return a;
}

sockaddr_in address4(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1);
  return a;
}

// Datagrams waiting on fd, read until `idle_ms` pass without one.
int drain(int fd, int idle_ms) {
  int n = 0;
  char buf[65536];
  for (pollfd p{fd, POLLIN, 0}; poll(&p, 1, idle_ms) > 0; p.revents = 0)
    if (recv(fd, buf, sizeof buf, 0) >= 0) ++n;
  return n;
}

int udp6_receiver(const std::string& netns, int port) {
  int fd = socket_in(netns, AF_INET6, SOCK_DGRAM);
  auto a = address6("::", port);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

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

TEST_CASE("tc: loss on a tun device (no link-layer header) drops its packets", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  const std::string tun = "rbt" + std::to_string(getpid() % 100000);
  // The test holds the tun device's file: packets routed into it come out here.
  int tun_fd = -1;
  std::thread([&] {
    int ns = open(("/run/netns/" + net.client).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns >= 0 && setns(ns, CLONE_NEWNET) == 0) {
      tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
      ifreq ifr{};
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
      std::strncpy(ifr.ifr_name, tun.c_str(), IFNAMSIZ - 1);
      if (tun_fd >= 0 && ioctl(tun_fd, TUNSETIFF, &ifr) != 0) tun_fd = -1;
    }
    if (ns >= 0) close(ns);
  }).join();
  REQUIRE(tun_fd >= 0);
  test::sh("ip -n " + net.client + " addr add 10.201.7.1/24 dev " + tun + " && ip -n " + net.client + " link set " +
           tun + " up");
  int sender = socket_in(net.client, AF_INET, SOCK_DGRAM);
  auto to = address4("10.201.7.2", 9000);
  // UDP datagrams to port 9000 that come out of the tun device.
  auto send_and_count = [&](int n) {
    for (int i = 0; i < n; ++i) sendto(sender, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    int got = 0;
    unsigned char buf[2048];
    for (pollfd p{tun_fd, POLLIN, 0}; poll(&p, 1, 300) > 0; p.revents = 0) {
      ssize_t len = read(tun_fd, buf, sizeof buf);
      if (len >= 28 && (buf[0] >> 4) == 4 && buf[9] == IPPROTO_UDP && buf[22] == 0x23 && buf[23] == 0x28) ++got;
    }
    return got;
  };
  REQUIRE(send_and_count(50) == 50);  // the path works without a fault
  {
    test::RunningFault fault("", interface_step(net, tun, "direction = \"egress\"\nprobability = 1.0"));
    CHECK(send_and_count(200) == 0);
    fault.stop();
    auto detail = fault.journal()["steps"][0]["detail"];
    INFO(detail.dump());
    CHECK(detail["packets_affected"].get<int>() >= 200);
    CHECK(detail["packets_unparsed"].get<int>() == 0);
  }
  CHECK(send_and_count(50) == 50);
  close(sender);
  close(tun_fd);
}

TEST_CASE("tc: protocol and ports match IPv6 behind a hop-by-hop header and in the first fragment",
          "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  int listed = udp6_receiver(net.server, 9000), other = udp6_receiver(net.server, 9001);
  int sender = socket_in(net.client, AF_INET6, SOCK_DGRAM);
  auto send = [&](int port, int count, size_t size, bool hop_by_hop) {
    // Hop-by-Hop options with one PadN option: 8 bytes (next header and length are the kernel's to fill).
    unsigned char hbh[8] = {0, 0, 1, 4, 0, 0, 0, 0};
    REQUIRE(setsockopt(sender, IPPROTO_IPV6, IPV6_HOPOPTS, hop_by_hop ? hbh : nullptr, hop_by_hop ? 8 : 0) == 0);
    auto to = address6(net.server_ip6, port);
    std::string payload(size, 'p');
    for (int i = 0; i < count; ++i)
      REQUIRE(sendto(sender, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
              static_cast<ssize_t>(size));
    return drain(port == 9000 ? listed : other, 400);
  };
  // Without a fault every kind arrives (neighbour discovery first).
  REQUIRE(test::wait_for([&] { return send(9001, 1, 10, false) == 1; }, 5000));
  REQUIRE(send(9001, 20, 10, true) == 20);
  REQUIRE(send(9001, 20, 3000, false) == 20);  // 3000 bytes over a 1500-byte link: fragments, reassembled

  test::RunningFault fault("", interface_step(net, net.client_if, "direction = \"egress\"\nprobability = 1.0\n"
                                                                  "protocol = \"udp\"\nports = [9000]"));
  SECTION("hop-by-hop options") {
    CHECK(send(9000, 20, 10, true) == 0);
    CHECK(send(9001, 20, 10, true) == 20);  // the other port is not listed
  }
  SECTION("fragments: the first one carries the ports, and without it nothing is reassembled") {
    CHECK(send(9000, 20, 3000, false) == 0);
    CHECK(send(9001, 20, 3000, false) == 20);
    CHECK(send(9000, 20, 3000, true) == 0);  // both: hop-by-hop, then the fragment header
  }
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["packets_unparsed"].get<int>() == 0);
  CHECK(detail["packets_affected"].get<int>() >= 20);
  close(sender);
  close(listed);
  close(other);
}

TEST_CASE("tc: network.bandwidth holds the declared rate at a high packet rate", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::RunningFault fault("", "type = \"network.bandwidth\"\ninterface = \"" + net.client_if + "\"\nnetns = \"" +
                                   net.client + "\"\ndirection = \"egress\"\nrate = \"512kbit\"\nburst = \"10kB\"");
  test::TempDir d;
  test::Child sink(net.tool(net.server, {"udp-sink", "9000", "500"}), d.path() + "/sink");
  REQUIRE(test::file_contains_soon(d.path() + "/sink", "ready", 5000));
  auto started = std::chrono::steady_clock::now();
  // As fast as the sender can: on this kind of machine hundreds of thousands of packets a second.
  test::Child sender(net.tool(net.client, {"udp-send", net.server_ip, "9000", "600000", "100", "0"}),
                     d.path() + "/send");
  REQUIRE(sender.wait(120'000) == 0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(sink.wait(15'000) == 0);
  auto text = test::read_text(d.path() + "/sink");
  auto received = nlohmann::json::parse(text.substr(text.find('{')))["received"].get<double>();
  // tc counts the whole frame: 100 bytes of payload + 8 UDP + 20 IP + 14 Ethernet.
  double expected = (64000 * seconds + 10000) / 142;
  INFO("sent 600000 datagrams in " << seconds << " s (" << 600000 / seconds << "/s); received " << received
                                   << ", the rate allows " << expected);
  CHECK(received >= 0.7 * expected);
  CHECK(received <= 1.2 * expected + 10);
  fault.stop();
}

TEST_CASE("tc: network.duplicate keeps the firewall mark on originals and clones", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  int receiver = socket_in(net.client, AF_INET, SOCK_DGRAM);
  int one = 1;
  REQUIRE(setsockopt(receiver, SOL_SOCKET, SO_RCVMARK, &one, sizeof one) == 0);
  auto at = address4("127.0.0.1", 9000);
  REQUIRE(bind(receiver, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);
  int sender = socket_in(net.client, AF_INET, SOCK_DGRAM);
  const uint32_t mark = 0x12340005;
  REQUIRE(setsockopt(sender, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0);

  test::RunningFault fault("", "type = \"network.duplicate\"\ninterface = \"lo\"\nnetns = \"" + net.client +
                                   "\"\ndirection = \"egress\"\nprobability = 1.0");
  for (int i = 0; i < 50; ++i) sendto(sender, "d", 1, 0, reinterpret_cast<sockaddr*>(&at), sizeof at);
  int received = 0, kept = 0;
  std::vector<uint32_t> other_marks;
  for (pollfd p{receiver, POLLIN, 0}; poll(&p, 1, 400) > 0; p.revents = 0) {
    char data[16], control[CMSG_SPACE(sizeof(uint32_t))];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(receiver, &msg, 0) < 0) continue;
    ++received;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_MARK) continue;
      uint32_t got = 0;
      std::memcpy(&got, CMSG_DATA(c), sizeof got);
      if (got == mark) ++kept;
      else other_marks.push_back(got);
    }
  }
  fault.stop();
  INFO("marks other than 0x12340005: " << other_marks.size() << (other_marks.empty() ? "" : ", e.g. ")
                                        << (other_marks.empty() ? 0u : other_marks[0]));
  CHECK(received == 100);  // each datagram twice
  CHECK(kept == 100);
  close(sender);
  close(receiver);
}

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
                                "\nduration = \"2s\"\n[[method]]\nname = \"dup\"\ntype = \"network.duplicate\"\n"
                                "interface = \"" + net.client_if + "\"\nnetns = \"" + net.client +
                                "\"\nprobability = 0.5\nstart = \"1s\"\nduration = \"2s\"\n");
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

namespace {

// connect() from a child process inside `cgroup` and the client namespace, on an IPv6 socket to `host`:
// "OK" or the errno's name.
std::string connect6_from(const test::TestNet& net, const std::string& cgroup, const std::string& host, int port) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    char pid_text[32];
    int len = snprintf(pid_text, sizeof pid_text, "%d", getpid());
    int procs = open((cgroup + "/cgroup.procs").c_str(), O_WRONLY);
    int ns = open(("/run/netns/" + net.client).c_str(), O_RDONLY);
    if (procs < 0 || write(procs, pid_text, static_cast<size_t>(len)) != len || ns < 0 || setns(ns, CLONE_NEWNET) != 0)
      _exit(3);
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = rc == 0 ? 0 : errno;
    (void)!write(pipe_fds[1], &err, sizeof err);
    _exit(0);
  }
  close(pipe_fds[1]);
  int err = -1;
  (void)!read(pipe_fds[0], &err, sizeof err);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(err >= 0);
  return err == 0 ? "OK" : err == ECONNREFUSED ? "ECONNREFUSED" : strerror(err);
}

}  // namespace

TEST_CASE("network.refuse matches an IPv4-mapped connect on an IPv6 socket against IPv4 peers", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::TempDir d;
  test::Child server(net.tool(net.server, {"tcp-serve", "7000"}), d.path() + "/serve");
  REQUIRE(test::file_contains_soon(d.path() + "/serve", "ready", 5000));
  test::TestCgroup cg;
  test::Child anchor({"/bin/sleep", "120"});
  cg.adopt(anchor.pid());
  const std::string mapped = "::ffff:" + net.server_ip;
  REQUIRE(connect6_from(net, cg.path(), mapped, 7000) == "OK");
  test::RunningFault fault("[[targets]]\nname = \"clients\"\ncgroup = \"" + cg.path() + "\"\nmax_targets = 100\n",
                           "type = \"network.refuse\"\ntarget = \"clients\"\npeers = [\"" + net.server_ip + "/32\"]");
  CHECK(connect6_from(net, cg.path(), mapped, 7000) == "ECONNREFUSED");
  CHECK(connect6_from(net, cg.path(), net.server_ip6, 7000) == "OK");  // an IPv6 peer is not listed
  fault.stop();
}

TEST_CASE("tc: a frame with an in-band 802.1Q tag is read past its tag", "[root][network][tc]") {
  if (!test::privileged()) return;
  test::TestNet net;
  test::RunningFault fault("", interface_step(net, net.client_if, "direction = \"egress\"\nprobability = 1.0\n"
                                                                  "protocol = \"udp\"\nports = [9000]"));
  // What a VLAN device on a link without VLAN offload sends: the tag in the frame, skb->protocol 802.1Q.
  int raw = socket_in(net.client, AF_PACKET, SOCK_RAW);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, net.client_if.c_str(), IFNAMSIZ - 1);
  REQUIRE(ioctl(raw, SIOCGIFINDEX, &ifr) == 0);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifr.ifr_ifindex;
  to.sll_protocol = htons(ETH_P_8021Q);
  unsigned char frame[18 + 20 + 8 + 4] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1,
                                          0x81, 0x00, 0x00, 0x0a, 0x08, 0x00};
  unsigned char* ip = frame + 18;
  ip[0] = 0x45;
  ip[3] = sizeof frame - 18;
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  inet_pton(AF_INET, net.client_ip.c_str(), ip + 12);
  inet_pton(AF_INET, net.server_ip.c_str(), ip + 16);
  unsigned char* udp = ip + 20;
  udp[0] = 0x30, udp[1] = 0x39;  // from 12345
  udp[2] = 0x23, udp[3] = 0x28;  // to 9000
  udp[5] = 12;
  // A frame dropped at the hook fails the send (ENOBUFS); one that passes is sent.
  for (int i = 0; i < 30; ++i) sendto(raw, frame, sizeof frame, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  close(raw);
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["packets_affected"].get<int>() == 30);
}

TEST_CASE("network.bandwidth: a rate or bucket beyond what the token bucket counts is refused, naming the limit",
          "[unit][network]") {
  test::TempDir dir;
  auto step = [&](const std::string& keys) {
    auto file = dir.write("b.toml", "name = \"b\"\n[[probes]]\nname = \"t\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                    "[[method]]\ntype = \"network.bandwidth\"\ninterface = \"lo\"\nduration = \"1s\"\n" +
                                        keys);
    auto v = test::run_rebound({"validate", file});
    return v.out + v.err;
  };
  CHECK(step("rate = \"200gbit\"").find("above the limit of 100gbit (12.5GB per second)") != std::string::npos);
  CHECK(step("rate = \"100gbit\"").find("above the limit") == std::string::npos);
  CHECK(step("rate = \"1mbit\"\nburst = \"2GB\"").find("above the limit of 1GiB") != std::string::npos);
}
