// Never cut the operator off (issue 16): an interface fault leaves alone every TCP connection on local port 22
// and the SSH session rebound runs in (SSH_CONNECTION), unless the step says include_control = true; the
// validation of that key; and the reading of SSH_CONNECTION. The root tests put the fault on the server end of
// a test veth pair, with plain listeners (no sshd) on port 22 and others in the server namespace.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "helpers.hpp"
#include "injectors/network/control_exclusion.hpp"

using test::only_error;

namespace {

// ---- sockets in the test's namespaces ----

struct Socket {
  int fd = -1;
  explicit Socket(int f = -1) : fd(f) {}
  Socket(Socket&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

// A socket made inside a test namespace (it stays there, whichever thread uses it later).
Socket socket_in(const std::string& netns, int family) {
  int fd = -1;
  std::thread([&] {
    int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns >= 0 && setns(ns, CLONE_NEWNET) == 0) fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ns >= 0) close(ns);
  }).join();
  REQUIRE(fd >= 0);
  return Socket(fd);
}

sockaddr_storage address(const std::string& ip, int port, socklen_t& len) {
  sockaddr_storage s{};
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&s);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(inet_pton(AF_INET, ip.c_str(), &a->sin_addr) == 1);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&s);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    REQUIRE(inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) == 1);
    len = sizeof(sockaddr_in6);
  }
  return s;
}

Socket listener(const std::string& netns, const std::string& ip, int port) {
  Socket s = socket_in(netns, ip.find(':') == std::string::npos ? AF_INET : AF_INET6);
  int one = 1;
  setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len = 0;
  auto a = address(ip, port, len);
  REQUIRE(bind(s.fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  REQUIRE(listen(s.fd, 16) == 0);
  return s;
}

// A TCP connection from the client namespace (from `local_port` if not 0); an invalid socket if it is not
// established within timeout_ms.
Socket connect_from(const std::string& netns, const std::string& ip, int port, int local_port, int timeout_ms) {
  Socket s = socket_in(netns, ip.find(':') == std::string::npos ? AF_INET : AF_INET6);
  socklen_t len = 0;
  if (local_port) {
    int one = 1;
    setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto any = address(ip.find(':') == std::string::npos ? "0.0.0.0" : "::", local_port, len);
    REQUIRE(bind(s.fd, reinterpret_cast<sockaddr*>(&any), len) == 0);
  }
  auto a = address(ip, port, len);
  fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
  if (connect(s.fd, reinterpret_cast<sockaddr*>(&a), len) != 0 && errno != EINPROGRESS) return Socket();
  pollfd p{s.fd, POLLOUT, 0};
  int error = 0;
  socklen_t elen = sizeof error;
  if (poll(&p, 1, timeout_ms) != 1 || getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &elen) != 0 || error != 0)
    return Socket();
  fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) & ~O_NONBLOCK);
  return s;
}

Socket accept_one(const Socket& listening) {
  pollfd p{listening.fd, POLLIN, 0};
  REQUIRE(poll(&p, 1, 5000) == 1);
  return Socket(accept4(listening.fd, nullptr, nullptr, SOCK_CLOEXEC));
}

// True when a byte written on `from` arrives on `to` within timeout_ms.
bool carries(const Socket& from, const Socket& to, int timeout_ms) {
  char c = 'x';
  REQUIRE(send(from.fd, &c, 1, MSG_NOSIGNAL) == 1);
  pollfd p{to.fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && recv(to.fd, &c, 1, 0) == 1;
}

// An established connection: the client's end and the server's.
struct Connection {
  Socket client, server;
};

Connection open_connection(const test::TestNet& net, const Socket& listening, const std::string& ip, int port,
                           int local_port = 0) {
  Connection c;
  c.client = connect_from(net.client, ip, port, local_port, 5000);
  REQUIRE(c.client.fd >= 0);
  c.server = accept_one(listening);
  REQUIRE(c.server.fd >= 0);
  return c;
}

// Both ways, within a generous time (the fault lets it through at once, or drops it for good).
bool works(const Connection& c) { return carries(c.client, c.server, 1500) && carries(c.server, c.client, 1500); }

std::string loss_on_server(const test::TestNet& net, const std::string& extra = "") {
  return "type = \"network.loss\"\ninterface = \"" + net.server_if + "\"\nnetns = \"" + net.server +
         "\"\nprobability = 1.0\n" + extra;
}

// SSH_CONNECTION set for the rebound started in this scope.
struct SshConnectionEnv {
  explicit SshConnectionEnv(const std::string& value) { setenv("SSH_CONNECTION", value.c_str(), 1); }
  ~SshConnectionEnv() { unsetenv("SSH_CONNECTION"); }
};

// A step whose keys start on line 11 ([[method]] is on line 9): as in test_messages_experiment.cpp.
std::string step(const std::string& keys) {
  return "name = \"t\"\n[[targets]]\nname = \"svc\"\npid = 1\n"
         "[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
         "[[method]]\nduration = \"5s\"\n" +
         keys;
}

}  // namespace

TEST_CASE("loss 100% on an interface leaves port 22 and the SSH_CONNECTION session working, and drops the rest",
          "[root][network][control]") {
  if (!test::privileged()) return;
  test::TestNet net;
  Socket ssh = listener(net.server, "0.0.0.0", 22), session = listener(net.server, "::", 2222),
         other = listener(net.server, "0.0.0.0", 9000);
  // Open before the fault, as an operator's session is: to port 22, the SSH_CONNECTION one (IPv6, from a fixed
  // client port to port 2222), one to the same server port from another client port, and one to port 9000.
  Connection to_ssh = open_connection(net, ssh, net.server_ip, 22);
  Connection named = open_connection(net, session, net.server_ip6, 2222, 40022);
  Connection unnamed = open_connection(net, session, net.server_ip6, 2222, 40023);
  Connection plain = open_connection(net, other, net.server_ip, 9000);
  SshConnectionEnv env(net.client_ip6 + " 40022 " + net.server_ip6 + " 2222");
  test::RunningFault fault("", loss_on_server(net));
  // Forgotten neighbours: the IPv6 session must find the server again through neighbour discovery, under the fault.
  test::sh("ip -n " + net.client + " neigh flush dev " + net.client_if + "; ip -n " + net.server + " neigh flush dev " +
           net.server_if);
  CHECK(works(to_ssh));
  CHECK(works(named));
  CHECK_FALSE(works(unnamed));
  CHECK_FALSE(works(plain));
  // New connections too: to port 22 they are made, elsewhere not.
  Socket fresh = connect_from(net.client, net.server_ip, 22, 0, 3000);
  CHECK(fresh.fd >= 0);
  CHECK(connect_from(net.client, net.server_ip, 9000, 0, 1500).fd < 0);
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump(1));
  REQUIRE(detail["excluded"].size() == 3);
  CHECK(detail["excluded"][0] == "every TCP connection on local port 22 (both directions)");
  CHECK(detail["excluded"][1] ==
        "IPv6 neighbour discovery (ICMPv6 133-137), which those connections need as IPv4 ones need ARP");
  CHECK(detail["excluded"][2] == "the SSH session from " + net.client_ip6 + " port 40022 to " + net.server_ip6 +
                                     " port 2222 (SSH_CONNECTION)");
  CHECK(detail["packets_excluded"].get<int>() >= 4);
  CHECK(detail["packets_affected"].get<int>() >= 2);
}

TEST_CASE("include_control = true: loss 100% on an interface drops port 22 traffic too", "[root][network][control]") {
  if (!test::privileged()) return;
  test::TestNet net;
  Socket ssh = listener(net.server, "0.0.0.0", 22);
  Connection to_ssh = open_connection(net, ssh, net.server_ip, 22);
  test::RunningFault fault("", loss_on_server(net, "include_control = true\n"));
  CHECK_FALSE(works(to_ssh));
  CHECK(connect_from(net.client, net.server_ip, 22, 0, 1500).fd < 0);
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump(1));
  CHECK(detail["excluded"].empty());
  CHECK(detail["packets_excluded"] == 0);
}

TEST_CASE("SSH_CONNECTION is read as the connection seen from this host, IPv4 or IPv6", "[unit][network][control]") {
  auto v4 = rebound::parse_ssh_connection("10.0.0.5 51234 10.0.0.1 22");
  REQUIRE(v4);
  CHECK(v4->family == 4);
  CHECK(v4->remote_port == 51234);
  CHECK(v4->local_port == 22);
  CHECK(v4->local[0] == inet_addr("10.0.0.1"));
  CHECK(v4->remote[0] == inet_addr("10.0.0.5"));
  auto v6 = rebound::parse_ssh_connection("fd00::5 40000 fd00::1 2222");
  REQUIRE(v6);
  CHECK(v6->family == 6);
  CHECK(v6->local_port == 2222);
  auto mapped = rebound::parse_ssh_connection("::ffff:10.0.0.5 40000 ::ffff:10.0.0.1 22");
  REQUIRE(mapped);
  CHECK(mapped->family == 4);
  CHECK(mapped->local[0] == inet_addr("10.0.0.1"));
  for (const char* bad : {"", "10.0.0.5 51234 10.0.0.1", "10.0.0.5 x 10.0.0.1 22", "10.0.0.5 1 fd00::1 22",
                          "10.0.0.5 1 10.0.0.1 70000", "10.0.0.5 1 10.0.0.1 22 extra"})
    CHECK_FALSE(rebound::parse_ssh_connection(bad));
  // An unreadable value still excludes port 22, and says why the session is not named.
  netfault_config config{};
  auto excluded = rebound::exclude_control(config, false, "garbage");
  CHECK(config.control_port == 22);
  CHECK(config.n_control == 0);
  REQUIRE(excluded.size() == 3);
  CHECK(excluded[2] == "not the SSH session: SSH_CONNECTION 'garbage' is not \"client_ip client_port server_ip "
                       "server_port\"");
  CHECK(rebound::exclude_control(config, true, "10.0.0.5 51234 10.0.0.1 22").empty());
  CHECK(config.control_port == 0);
}

TEST_CASE("message: include_control on a network step without an interface", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 0.1\ninclude_control = true\n")) ==
        "exp.toml:14:19: error: method[0].include_control: include_control goes with interface = \"...\": a fault on "
        "a target's cgroup acts on that target's connections only, never on the operator's; remove it");
  CHECK(only_error(step("type = \"network.delay\"\ntarget = \"svc\"\nlatency = \"10ms\"\ninclude_control = true\n")) ==
        "exp.toml:14:19: error: method[0].include_control: include_control goes with interface = \"...\": a fault on "
        "a target's cgroup acts on that target's connections only, never on the operator's; remove it");
}

TEST_CASE("message: include_control that is not true or false", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"network.loss\"\ninterface = \"eth0\"\nprobability = 0.1\ninclude_control = \"yes\"\n")) ==
        "exp.toml:14:19: error: method[0].include_control: expected true or false, got string 'yes'");
}

TEST_CASE("message: include_control on a step that is not a network fault", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"process.stop\"\ntarget = \"svc\"\ninclude_control = true\n")) ==
        "exp.toml:13:1: error: method[0].include_control: unknown key (known keys here: allow_no_effect, count, "
        "duration, name, start, target, type)");
}
