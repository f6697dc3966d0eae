// Interface (tc) network faults, the packet path: what it reads (tun, IPv6 extension headers, fragments,
// 802.1Q tags), the token bucket at high packet rates and its limits, clones and firewall marks. Root only
// (but the limits); traffic stays in the tests' namespaces. Sharing an interface: test_network_tc_sharing.cpp.
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

std::string interface_step(const test::TestNet& net, const std::string& interface, const std::string& keys) {
  return "type = \"network.loss\"\ninterface = \"" + interface + "\"\nnetns = \"" + net.client + "\"\n" + keys;
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
