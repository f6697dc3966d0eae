// HTTP, TCP, command and process probes against local servers and processes the tests start.
#include <catch2/catch.hpp>
#include <csignal>
#include <unistd.h>

#include "experiments/loader.hpp"
#include "helpers.hpp"
#include "probes/registry.hpp"

using namespace rebound;

namespace {
// Builds one probe from a TOML snippet through the real loader.
std::shared_ptr<Probe> make_probe(const std::string& body) {
  auto r = load_experiment_text("name = \"p\"\n[[probes]]\nname = \"p\"\n" + body, "p.toml", LoadOptions{"/"});
  INFO(r.diagnostics.format_all());
  REQUIRE(r.experiment);
  return r.experiment->probes.at(0).probe;
}
}  // namespace

TEST_CASE("http probe: a 200 with the expected body passes", "[unit][probes][http]") {
  test::HttpServer server(200, "all good");
  auto p = make_probe("type = \"http\"\nurl = \"" + server.url("/health") + "\"\nexpect_body = \"good\"\n");
  auto s = p->sample();
  CHECK(s.ok);
  CHECK(s.reason == "status 200");
  CHECK(s.latency_ms > 0);
}

TEST_CASE("http probe: an unexpected status fails with the status", "[unit][probes][http]") {
  test::HttpServer server(503, "down");
  auto p = make_probe("type = \"http\"\nurl = \"" + server.url() + "\"\nexpect_status = [200, 204]\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "status 503 not in [200, 204]");
}

TEST_CASE("http probe: a body that does not match fails", "[unit][probes][http]") {
  test::HttpServer server(200, "maintenance");
  auto p = make_probe("type = \"http\"\nurl = \"" + server.url() + "\"\nexpect_body = \"^ok\"\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "status 200, body does not match /^ok/");
}

TEST_CASE("http probe: a slow answer fails max_latency", "[unit][probes][http]") {
  test::HttpServer server(200, "ok", 120);
  auto p = make_probe("type = \"http\"\nurl = \"" + server.url() + "\"\nmax_latency = \"50ms\"\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.latency_ms >= 120);
  CHECK(s.reason.starts_with("status 200 but slow: "));
}

TEST_CASE("http probe: a timeout fails within the declared timeout", "[unit][probes][http]") {
  test::HttpServer server(200, "ok", 1500);
  auto p = make_probe("type = \"http\"\nurl = \"" + server.url() + "\"\ntimeout = \"200ms\"\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.latency_ms < 1000);
  CHECK(s.reason == "Timeout was reached");
}

TEST_CASE("http probe: an unreachable endpoint fails with connection refused", "[unit][probes][http]") {
  auto p = make_probe("type = \"http\"\nurl = \"http://127.0.0.1:9/\"\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "Couldn't connect to server");
}

TEST_CASE("tcp probe: an open port connects, a closed one is refused", "[unit][probes][tcp]") {
  test::HttpServer server(200, "ok");
  auto open = make_probe("type = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(server.port()) + "\n");
  auto s = open->sample();
  CHECK(s.ok);
  CHECK(s.reason == "connected");
  auto closed = make_probe("type = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\n");
  auto c = closed->sample();
  CHECK_FALSE(c.ok);
  CHECK(c.reason == "Connection refused");
}

TEST_CASE("command probe: exit code and stdout are checked", "[unit][probes][command]") {
  auto ok = make_probe("type = \"command\"\nargv = [\"/bin/echo\", \"ready\"]\nexpect_stdout = \"^ready\"\n");
  CHECK(ok->sample().ok);
  auto wrong_out = make_probe("type = \"command\"\nargv = [\"/bin/echo\", \"starting\"]\nexpect_stdout = \"^ready\"\n");
  auto s = wrong_out->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "exit 0, stdout does not match /^ready/");
  auto bad_exit = make_probe("type = \"command\"\nargv = [\"/bin/sh\", \"-c\", \"echo broken >&2; exit 3\"]\n");
  auto b = bad_exit->sample();
  CHECK_FALSE(b.ok);
  CHECK(b.reason == "exit 3, expected 0: broken");
}

TEST_CASE("command probe: no shell unless asked", "[unit][probes][command]") {
  // Without a shell, '$HOME' is a literal argument.
  auto literal = make_probe("type = \"command\"\nargv = [\"/bin/echo\", \"$HOME\"]\nexpect_stdout = \"^\\\\$HOME\"\n");
  CHECK(literal->sample().ok);
  auto shell = make_probe("type = \"command\"\nshell = true\nargv = [\"test -n \\\"$HOME\\\"\"]\n");
  CHECK(shell->sample().ok);
}

TEST_CASE("command probe: a hung command is killed at its timeout", "[unit][probes][command]") {
  auto p = make_probe("type = \"command\"\nargv = [\"/bin/sleep\", \"10\"]\ntimeout = \"200ms\"\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.latency_ms < 2000);
  CHECK(s.reason == "timed out after 200ms");
}

TEST_CASE("command probe: a program not in PATH is reported", "[unit][probes][command]") {
  auto p = make_probe("type = \"command\"\nargv = [\"no-such-program-xyz\"]\n");
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "command 'no-such-program-xyz' not found in PATH");
}

TEST_CASE("process probe: counts the target's live processes", "[unit][probes][process]") {
  test::Child child({"/bin/sleep", "27.1828"});
  auto r = load_experiment_text(
      "name = \"p\"\n[[targets]]\nname = \"s\"\ncmdline = \"sleep 27\\\\.1828\"\n[[probes]]\nname = \"p\"\ntype = "
      "\"process\"\ntarget = \"s\"\n",
      "p.toml", LoadOptions{"/"});
  INFO(r.diagnostics.format_all());
  REQUIRE(r.experiment);
  auto p = r.experiment->probes[0].probe;
  REQUIRE(test::wait_for([&] { return p->sample().ok; }, 2000));
  CHECK(p->sample().reason == "1 process");
  child.signal(SIGKILL);
  child.wait(2000);
  auto s = p->sample();
  CHECK_FALSE(s.ok);
  CHECK(s.reason == "0 processes");
}
