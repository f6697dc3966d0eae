// Connect hooks on a cgroup seen from an IPv6 socket: an IPv4-mapped destination is matched as IPv4. Root only;
// traffic stays in the test's namespaces.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"

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
