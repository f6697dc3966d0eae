// http.fault end to end: curl in the target's cgroup (in the test's client namespace) asks nginx in the server
// namespace, through rebound's HTTP proxy; what curl gets under each rule is asserted. Root only.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "helpers.hpp"

namespace {

constexpr int kHttpPort = 9100;  // nginx
constexpr int kEchoPort = 9102;  // socat echoing whatever it gets

struct Reply {
  std::string path;
  int status = 0;
  int new_connections = 0;
  double seconds = 0;
};

// nginx (keep-alive, a chunked answer from the echo module) and an echo server in the server namespace, and
// a cgroup target in the client namespace.
struct HttpBed {
  test::TestNet net;
  test::TestCgroup cg;
  test::TempDir dir;
  std::unique_ptr<test::Child> anchor, nginx, echo;
  HttpBed() {
    anchor = std::make_unique<test::Child>(net.in(net.client, {"/bin/sleep", "300"}));
    cg.adopt(anchor->pid());
    const std::string& d = dir.path();
    std::string conf = dir.write(
        "nginx.conf",
        "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;\n"
        "daemon off; master_process off; worker_processes 1;\npid " + d + "/nginx.pid;\nerror_log " + d + "/error.log;\n"
        "events { worker_connections 1024; }\nhttp {\n  access_log off; keepalive_requests 100000;\n"
        "  client_body_temp_path " + d + "/b; proxy_temp_path " + d + "/p; fastcgi_temp_path " + d + "/f;\n"
        "  uwsgi_temp_path " + d + "/u; scgi_temp_path " + d + "/s;\n  server {\n    listen " + net.server_ip + ":" +
        std::to_string(kHttpPort) + ";\n    location /api/ { return 200 \"api\\n\"; }\n"
        "    location /chunked { echo \"first part\"; echo_flush; echo \"second part\"; }\n"
        "    location / { return 200 \"ok\\n\"; }\n  }\n}\n");
    nginx = std::make_unique<test::Child>(net.in(net.server, {"/usr/sbin/nginx", "-c", conf, "-p", d}), d + "/nginx.out");
    echo = std::make_unique<test::Child>(net.in(net.server, {"/usr/bin/socat", "TCP-LISTEN:" + std::to_string(kEchoPort) +
                                                             ",fork,reuseaddr", "EXEC:/bin/cat"}));
    REQUIRE(test::wait_for([&] { return run(false, "curl -s -o /dev/null -w '%{http_code}' " + url("/")) == "200"; },
                           5000));
  }
  std::string url(const std::string& path) const {
    return "http://" + net.server_ip + ":" + std::to_string(kHttpPort) + path;
  }
  std::string targets() const {
    return "[[targets]]\nname = \"clients\"\ncgroup = \"" + cg.path() + "\"\nmax_targets = 100\n";
  }
  // A shell command in the client namespace, inside the target's cgroup or not; its stdout (failures allowed).
  std::string run(bool inside, const std::string& command) const {
    std::string script = dir.write("command.sh", command + "\n");
    std::string enter = inside ? "echo $$ > " + cg.path() + "/cgroup.procs && " : "";
    return test::sh("sh -c '" + enter + "exec ip netns exec " + net.client + " sh " + script + "' || true");
  }
  // One curl for all the paths, in order: it keeps one connection alive for all of them when it can.
  std::vector<Reply> curl(bool inside, const std::vector<std::string>& paths) const {
    std::string config;
    for (const auto& p : paths) config += "url = \"" + url(p) + "\"\noutput = \"/dev/null\"\n";
    std::string file = dir.write("curl.conf", config);
    std::istringstream out(
        run(inside, "curl -s -K " + file + " -w '%{url_effective} %{http_code} %{num_connects} %{time_total}\\n'"));
    std::vector<Reply> replies;
    std::string u;
    Reply r;
    while (out >> u >> r.status >> r.new_connections >> r.seconds) {
      r.path = u.substr(url("").size());
      replies.push_back(r);
    }
    REQUIRE(replies.size() == paths.size());
    return replies;
  }
};

std::string step(const std::string& body) {
  return "type = \"http.fault\"\ntarget = \"clients\"\nports = [" + std::to_string(kHttpPort) + ", " +
         std::to_string(kEchoPort) + "]\n" + body;
}

double median_seconds(const std::vector<Reply>& replies, const std::string& prefix) {
  std::vector<double> v;
  for (const auto& r : replies)
    if (r.path.starts_with(prefix)) v.push_back(r.seconds);
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

TEST_CASE("http.fault aborts the declared share of matching requests on one keep-alive connection and no other",
          "[root][http_fault]") {
  if (!test::privileged()) return;
  HttpBed bed;
  test::RunningFault fault(bed.targets(), step("rules = [{ path = \"^/api/\", action = \"abort\", status = 503, "
                                               "probability = 0.3 }]"));
  std::vector<std::string> paths;
  for (int i = 0; i < 1200; ++i) paths.push_back(i % 6 == 5 ? "/page/" + std::to_string(i) : "/api/" + std::to_string(i));
  auto replies = bed.curl(true, paths);
  int aborted = 0, api = 0, connections = 0;
  for (const auto& r : replies) {
    connections += r.new_connections;
    if (r.path.starts_with("/api/")) {
      ++api;
      CHECK((r.status == 200 || r.status == 503));
      aborted += r.status == 503;
    } else {
      CHECK(r.status == 200);  // unmatched: never touched
    }
  }
  CHECK(connections == 1);  // the aborts kept the connection: all 1200 went over one
  // Binomial(1000, 0.3): mean 300, sd 14.5; ±5 sd.
  REQUIRE(api == 1000);
  CHECK(std::abs(aborted - 300) <= 72);
  CHECK(fault.stop() == 3);
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["connections"] == 1);
  CHECK(detail["requests"] == 1200);
  CHECK(detail["matched"][0] == 1000);
  CHECK(detail["actions"]["abort"] == aborted);
  CHECK(detail["non_http_connections"] == 0);
  CHECK(detail["parse_errors"] == 0);
}

TEST_CASE("http.fault delays the requests or responses of matching requests only", "[root][http_fault]") {
  if (!test::privileged()) return;
  HttpBed bed;
  test::RunningFault fault(bed.targets(),
                           step("rules = [\n  { path = \"^/slow\", action = \"delay\", delay = \"200ms\", phase = "
                                "\"response\" },\n  { path = \"^/held\", action = \"delay\", delay = \"120ms\" },\n]"));
  std::vector<std::string> paths;
  for (int i = 0; i < 10; ++i)
    for (const char* p : {"/slow/", "/held/", "/fast/"}) paths.push_back(p + std::to_string(i));
  auto replies = bed.curl(true, paths);
  int connections = 0;
  for (const auto& r : replies) {
    CHECK(r.status == 200);
    connections += r.new_connections;
  }
  CHECK(connections == 1);
  double slow = median_seconds(replies, "/slow"), held = median_seconds(replies, "/held");
  double fast = median_seconds(replies, "/fast");
  CHECK(slow >= 0.2);
  CHECK(slow <= 0.25);
  CHECK(held >= 0.12);
  CHECK(held <= 0.17);
  CHECK(fast < 0.02);
  fault.stop();
}

TEST_CASE("http.fault replaces status body and a field and resets where told", "[root][http_fault]") {
  if (!test::privileged()) return;
  HttpBed bed;
  test::RunningFault fault(bed.targets(),
                           step("rules = [\n  { path = \"^/api/\", action = \"replace\", status = 429, body = "
                                "\"replaced\", set_headers = { \"x-fault\" = \"yes\" } },\n"
                                "  { path = \"^/cut\", action = \"reset\" },\n]"));
  std::string replaced = bed.run(true, "curl -s -i " + bed.url("/api/1"));
  INFO(replaced);
  CHECK(replaced.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
  CHECK(replaced.find("x-fault: yes\r\n") != std::string::npos);
  CHECK(replaced.find("Content-Length: 8\r\n") != std::string::npos);
  CHECK(replaced.ends_with("\r\n\r\nreplaced"));
  CHECK(bed.run(true, "curl -s " + bed.url("/other")) == "ok\n");
  // curl exits 56 (recv failure: connection reset by peer) and got no status.
  CHECK(bed.run(true, "curl -s -o /dev/null -w '%{http_code}' " + bed.url("/cut") + "; echo \" $?\"") ==
        "000 56\n");
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  CHECK(detail["actions"]["replace"] == 1);
  CHECK(detail["actions"]["reset"] == 1);
}

TEST_CASE("http.fault passes chunked answers byte for byte and other protocols untouched", "[root][http_fault]") {
  if (!test::privileged()) return;
  HttpBed bed;
  // A request for /anything would be reset: the TLS-like stream below carries one that must not be seen.
  test::RunningFault fault(bed.targets(), step("path = \"^/anything\"\naction = \"reset\""));
  const std::string chunks = "b\r\nfirst part\n\r\nc\r\nsecond part\n\r\n0\r\n\r\n";
  CHECK(bed.run(false, "curl -s --raw " + bed.url("/chunked")) == chunks);
  CHECK(bed.run(true, "curl -s --raw " + bed.url("/chunked")) == chunks);
  // TLS-like bytes (a handshake record header, then a request line that must not be parsed) to the echo server.
  std::string sent = bed.dir.path() + "/hello.bin", got = bed.dir.path() + "/echoed.bin";
  {
    std::ofstream out(sent, std::ios::binary);
    out << std::string("\x16\x03\x01\x00\x30", 5) << "GET /anything HTTP/1.1\r\nHost: x\r\n\r\n" << std::string(1000, 'z');
  }
  bed.run(true, "socat -t 2 - TCP:" + bed.net.server_ip + ":" + std::to_string(kEchoPort) + " < " + sent + " > " + got);
  CHECK(test::read_text(got) == test::read_text(sent));
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  INFO(detail.dump());
  CHECK(detail["non_http_connections"] == 1);
  CHECK(detail["actions"]["reset"] == 0);
}

TEST_CASE("the shipped backend-errors scenario: retries hide half the calls aborted with 503", "[root][http_fault][demo]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  auto r = test::run_rebound({"run", test::source("scenarios/network/backend-errors-retry.toml"), "--report-dir",
                              dir.path(), "--state-dir", dir.path() + "/state", "--no-history"},
                             120'000);
  INFO(r.out << r.err);
  auto j = test::read_json(dir.path() + "/backend-errors-retry/journal.json");
  auto detail = j["steps"][0]["detail"];
  INFO(detail.dump() << "\n" << j["metrics"].dump());
  // Every frontend request calls the backend at least once during the fault: 20 probe requests a second.
  CHECK(detail["requests"].get<int>() > 60);
  double share = detail["actions"]["abort"].get<double>() / detail["requests"].get<double>();
  CHECK(share > 0.3);
  CHECK(share < 0.7);
  CHECK(r.exit_code == 0);
  CHECK(j["verdict"] == "passed");
  CHECK(j["metrics"]["phases"]["fault"]["error_ratio"].get<double>() <= 0.1);
}

TEST_CASE("http.fault answers pipelined requests in order with the aborted one in its place", "[root][http_fault]") {
  if (!test::privileged()) return;
  HttpBed bed;
  test::RunningFault fault(bed.targets(), step("path = \"^/api/\"\naction = \"abort\"\nstatus = 503\n"));
  std::string requests = bed.dir.write("pipelined.txt", "GET /page/1 HTTP/1.1\r\nHost: svc\r\n\r\n"
                                                        "GET /api/2 HTTP/1.1\r\nHost: svc\r\n\r\n"
                                                        "GET /page/3 HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n");
  // All three in one write: nginx answers the two it gets, rebound the one in the middle.
  std::string out = bed.run(true, "socat -t 5 - TCP:" + bed.net.server_ip + ":" + std::to_string(kHttpPort) + " < " +
                                      requests);
  INFO(out);
  std::vector<std::string> statuses;
  for (size_t at = out.find("HTTP/1.1 "); at != std::string::npos; at = out.find("HTTP/1.1 ", at + 1))
    statuses.push_back(out.substr(at + 9, 3));
  CHECK(statuses == std::vector<std::string>{"200", "503", "200"});
  CHECK(out.ends_with("\r\n\r\nok\n"));
  fault.stop();
  auto detail = fault.journal()["steps"][0]["detail"];
  CHECK(detail["requests"] == 3);
  CHECK(detail["responses"] == 2);  // from nginx; rebound's own answer is not one
}
