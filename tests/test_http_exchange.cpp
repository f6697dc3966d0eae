// http.fault's connection handler on its own (no sockets, no root): bytes in from a client and a server, the
// bytes each is to get out. Framing keeps every byte as sent; the rules act on the right request and response.
#include <catch2/catch.hpp>
#include <toml++/toml.h>

#include "injectors/network/http/http_exchange.hpp"

using namespace rebound;

namespace {

std::vector<HttpRule> rules_from(const std::string& text) {
  auto doc = toml::parse(text);
  Diagnostics diagnostics("test");
  TableReader reader(doc, "step", diagnostics);
  std::vector<HttpRule> rules;
  bool ok = parse_http_rules(reader, rules);
  INFO(diagnostics.format_all());
  REQUIRE(ok);
  REQUIRE(diagnostics.empty());
  return rules;
}

constexpr int64_t kNow = 1'000'000;
constexpr int64_t kLater = INT64_MAX - 1;  // past every gate

// A literal's bytes, NULs included.
template <size_t N>
std::string bytes(const char (&text)[N]) {
  return std::string(text, N - 1);
}

std::string take(Outbound& out, int64_t now = kLater) {
  std::string s(out.ready(now));
  out.consume(s.size());
  return s;
}

struct Bed {
  std::vector<HttpRule> rules;
  HttpCounters counters;
  std::mt19937_64 random{7};
  HttpExchange x;
  explicit Bed(const std::string& text = "rules = [{ path = \"^/never\", action = \"reset\" }]")
      : rules(rules_from(text)), counters(rules.size()), x(rules, counters, random) {}
  // Fed in pieces of `piece` bytes: boundaries anywhere must not matter.
  void client(const std::string& bytes, size_t piece = SIZE_MAX, int64_t now = kNow) {
    for (size_t i = 0; i < bytes.size(); i += piece) x.from_client(std::string_view(bytes).substr(i, piece), now);
  }
  void server(const std::string& bytes, size_t piece = SIZE_MAX, int64_t now = kNow) {
    for (size_t i = 0; i < bytes.size(); i += piece) x.from_upstream(std::string_view(bytes).substr(i, piece), now);
  }
};

const std::string kGetA = "GET /a HTTP/1.1\r\nHost: svc\r\n\r\n";
const std::string kGetApi = "GET /api/x?q=1 HTTP/1.1\r\nHost: svc\r\nX-User: beta-7\r\n\r\n";
const std::string kPostApi = "POST /api/y HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello";
const std::string kGetB = "GET /b HTTP/1.1\r\nHost: svc\r\n\r\n";
const std::string kOkA = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
const std::string kChunkedB =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n";

}  // namespace

TEST_CASE("http exchange: pipelined requests and chunked responses pass byte for byte whatever the reads",
          "[unit][http_fault]") {
  for (size_t piece : {size_t{1}, size_t{7}, SIZE_MAX}) {
    Bed bed;
    bed.client(kGetA + kPostApi + kGetB, piece);
    CHECK(take(bed.x.to_upstream) == kGetA + kPostApi + kGetB);
    bed.server(kOkA + kChunkedB + kOkA, piece);
    CHECK(take(bed.x.to_client) == kOkA + kChunkedB + kOkA);
    CHECK(bed.counters.requests == 3);
    CHECK(bed.counters.responses == 3);
    CHECK(bed.counters.parse_errors == 0);
  }
}

TEST_CASE("http exchange: an aborted request never reaches the server and its answer keeps its place",
          "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"^/api/\", action = \"abort\", status = 503, body = \"down\" }]");
  bed.client(kGetA + kPostApi + kGetB, 3);
  // The POST and its body are gone; the next request is framed right after them.
  CHECK(take(bed.x.to_upstream) == kGetA + kGetB);
  // The 503 is ready at once but waits for the response before it.
  CHECK(take(bed.x.to_client).empty());
  bed.server(kOkA + kOkA);
  std::string aborted = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\ndown";
  CHECK(take(bed.x.to_client) == kOkA + aborted + kOkA);
  CHECK(bed.counters.matched[0] == 1);
  CHECK(bed.counters.actions[static_cast<size_t>(HttpAction::abort)] == 1);
}

TEST_CASE("http exchange: method host and header regexes all have to match", "[unit][http_fault]") {
  Bed bed("rules = [{ method = \"get\", host = \"^svc$\", headers = { \"x-user\" = \"^beta\" }, action = \"reset\" }]");
  bed.client(kGetA);
  CHECK_FALSE(bed.x.reset);  // no X-User
  bed.client(kGetApi);
  CHECK(bed.x.reset);
  CHECK(bed.counters.matched[0] == 1);
}

TEST_CASE("http exchange: the probability draws per request and first match wins", "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"^/a\", action = \"abort\", status = 500, probability = 0.25 },\n"
          "         { path = \"/\", action = \"abort\", status = 502 }]");
  std::string requests;
  for (int i = 0; i < 4000; ++i) requests += kGetA;
  bed.client(requests);
  CHECK(bed.counters.matched[0] == 4000);
  CHECK(bed.counters.matched[1] == 0);  // the first rule matched: its draw decides alone
  double aborted = static_cast<double>(bed.counters.actions[0].load());
  // Binomial(4000, 0.25): sd 27; ±5 sd.
  CHECK(aborted > 1000 - 137);
  CHECK(aborted < 1000 + 137);
}

TEST_CASE("http exchange: a request delay holds it and what follows it, a response delay holds its response",
          "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"^/a\", action = \"delay\", delay = \"200ms\" },\n"
          "         { path = \"^/b\", action = \"delay\", delay = \"300ms\", phase = \"response\" }]");
  bed.client(kGetB + kGetA + kGetB);
  CHECK(take(bed.x.to_upstream, kNow) == kGetB);
  CHECK(bed.x.next_deadline() == kNow + 200'000);
  CHECK(take(bed.x.to_upstream, kNow + 199'999).empty());
  CHECK(take(bed.x.to_upstream, kNow + 200'000) == kGetA + kGetB);
  bed.server(kOkA, SIZE_MAX, kNow + 10);
  CHECK(take(bed.x.to_client, kNow + 300'000).empty());
  CHECK(take(bed.x.to_client, kNow + 300'010) == kOkA);
  bed.x.end_rules();  // the step reverted: nothing is held any more
  bed.server(kOkA + kOkA, SIZE_MAX, kNow + 400'000);
  CHECK(take(bed.x.to_client, kNow + 400'000) == kOkA + kOkA);
}

TEST_CASE("http exchange: replace sets status fields and body with a new length and keeps the next response",
          "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"^/a\", action = \"replace\", status = 500, set_headers = { \"x-fault\" = \"1\" }, "
          "body = \"{}\" }]");
  bed.client(kGetA + kGetB);
  bed.server(kChunkedB + kOkA, 5);
  CHECK(take(bed.x.to_client) == "HTTP/1.1 500 Internal Server Error\r\nx-fault: 1\r\nContent-Length: 2\r\n\r\n{}" + kOkA);
}

TEST_CASE("http exchange: replace of the status alone keeps the server's body and framing", "[unit][http_fault]") {
  Bed bed("path = \"^/a\"\naction = \"replace\"\nstatus = 404\n");  // one rule on the step itself
  bed.client(kGetA);
  bed.server(kChunkedB);
  CHECK(take(bed.x.to_client) == "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                     kChunkedB.substr(kChunkedB.find("\r\n\r\n") + 4));
}

TEST_CASE("http exchange: a response to HEAD has no body even with a length", "[unit][http_fault]") {
  Bed bed;
  std::string head = "HEAD /a HTTP/1.1\r\nHost: svc\r\n\r\n";
  bed.client(head + kGetA);
  std::string head_response = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  bed.server(head_response + kOkA);
  CHECK(take(bed.x.to_client) == head_response + kOkA);
  CHECK(bed.counters.responses == 2);
}

TEST_CASE("http exchange: 100 Continue belongs to the request whose final answer follows", "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"^/b\", action = \"abort\", status = 429 }]");
  bed.client(kPostApi + kGetB);
  bed.server("HTTP/1.1 100 Continue\r\n\r\n" + kOkA);
  CHECK(take(bed.x.to_client) == "HTTP/1.1 100 Continue\r\n\r\n" + kOkA +
                                     "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nContent-Type: "
                                     "text/plain\r\n\r\n");
}

TEST_CASE("http exchange: TLS and HTTP/2 connections pass through untouched and are counted", "[unit][http_fault]") {
  Bed bed("rules = [{ action = \"reset\" }]");  // would reset every HTTP/1.x request
  std::string hello = bytes("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03GET / HTTP/1.1\r\n\r\n");
  bed.client(hello, 1);
  CHECK_FALSE(bed.x.reset);
  CHECK(take(bed.x.to_upstream) == hello);
  bed.server("\x16\x03\x03 anything");
  CHECK(take(bed.x.to_client) == "\x16\x03\x03 anything");
  Bed h2("rules = [{ action = \"reset\" }]");
  std::string preface = bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00");
  h2.client(preface, 4);
  CHECK(take(h2.x.to_upstream) == preface);
  Bed junk("rules = [{ action = \"reset\" }]");
  junk.client("\x01\x02 not http at all\r\n\r\n");
  CHECK(take(junk.x.to_upstream) == "\x01\x02 not http at all\r\n\r\n");
  CHECK(bed.counters.non_http + h2.counters.non_http + junk.counters.non_http == 3);
  CHECK(bed.counters.requests + h2.counters.requests + junk.counters.requests == 0);
}

TEST_CASE("http exchange: after 101 Switching Protocols both ways pass raw", "[unit][http_fault]") {
  Bed plain;
  std::string upgrade = "GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  plain.client(upgrade + "\x81\x05hello");  // frames sent early are held until the answer
  CHECK(take(plain.x.to_upstream) == upgrade);
  std::string switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  plain.server(switching + "\x81\x02hi");
  CHECK(take(plain.x.to_client) == switching + "\x81\x02hi");
  CHECK(take(plain.x.to_upstream) == "\x81\x05hello");
  plain.client("GET / HTTP/1.1\r\n\r\n");  // just bytes now
  CHECK(take(plain.x.to_upstream) == "GET / HTTP/1.1\r\n\r\n");
  CHECK(plain.counters.upgraded == 1);
}

TEST_CASE("http exchange: a response that ends with the close is complete and the next abort is answered",
          "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"^/b\", action = \"abort\", status = 503 }]");
  bed.client(kGetA + kGetB);
  std::string until_close = "HTTP/1.0 200 OK\r\n\r\nall of it";
  bed.server(until_close);
  CHECK(take(bed.x.to_client) == until_close);
  CHECK_FALSE(bed.x.synthetic_pending());  // still waiting for the end of the first response
  bed.x.upstream_closed(kNow);
  CHECK(take(bed.x.to_client).starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(bed.counters.responses == 1);
}

TEST_CASE("http exchange: an aborted request that waits for 100 Continue closes its connection",
          "[unit][http_fault]") {
  Bed bed("rules = [{ action = \"abort\", status = 413 }]");
  bed.client("PUT /big HTTP/1.1\r\nHost: svc\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
  CHECK(take(bed.x.to_client).find("Connection: close\r\n") != std::string::npos);
  CHECK(bed.x.close_client);
  CHECK(take(bed.x.to_upstream).empty());
}

TEST_CASE("http exchange: a status without a standard phrase gets its class's", "[unit][http_fault]") {
  Bed bed("action = \"abort\"\nstatus = 418\n");
  bed.client(kGetA);
  CHECK(take(bed.x.to_client).starts_with("HTTP/1.1 418 Client Error\r\nContent-Length: 0\r\n"));
}

TEST_CASE("http exchange: a CONNECT tunnel passes raw once the server accepts it", "[unit][http_fault]") {
  Bed bed("rules = [{ path = \"/\", action = \"reset\" }]");  // would reset any request the tunnel carried
  std::string connect = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n";
  bed.client(connect + "GET / HTTP/1.1\r\n\r\n");
  CHECK_FALSE(bed.x.reset);
  CHECK(take(bed.x.to_upstream) == connect + "GET / HTTP/1.1\r\n\r\n");
  bed.server("HTTP/1.1 200 Connection established\r\n\r\nraw bytes");
  CHECK(take(bed.x.to_client) == "HTTP/1.1 200 Connection established\r\n\r\nraw bytes");
  CHECK(bed.counters.upgraded == 1);
}

TEST_CASE("http exchange: any segmentation of keep-alive traffic comes out byte for byte", "[unit][http_fault]") {
  // Requests and the answers a server gives them, HEAD's without a body.
  const std::pair<std::string, std::string> exchanges[] = {
      {kGetA, kOkA},
      {kPostApi, kChunkedB},
      {"HEAD /h HTTP/1.1\r\nHost: svc\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"},
      {"PUT /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"},
      {kGetB, "HTTP/1.1 100 Continue\r\n\r\n" + kOkA},
  };
  std::mt19937_64 random(99);
  for (int round = 0; round < 300; ++round) {
    Bed bed;
    std::string requests, responses;
    std::vector<std::pair<size_t, size_t>> ends;  // where each request and its answer end
    for (int i = 0; i < 1 + static_cast<int>(random() % 8); ++i) {
      const auto& [request, response] = exchanges[random() % std::size(exchanges)];
      requests += request;
      responses += response;
      ends.emplace_back(requests.size(), responses.size());
    }
    std::string upstream, client;
    for (size_t a = 0, b = 0; a < requests.size() || b < responses.size();) {
      // A server answers what it got: the answers of the requests that reached it, no further.
      size_t answerable = 0;
      for (const auto& [request_end, response_end] : ends)
        if (upstream.size() >= request_end) answerable = response_end;
      size_t n = std::min(1 + random() % 40, requests.size() - a);
      size_t m = std::min(1 + random() % 40, answerable - b);
      if (n == 0 && m == 0) break;  // stuck: a request did not get through (the checks below say which)
      if (n) bed.x.from_client(std::string_view(requests).substr(a, n), kNow);
      if (m) bed.x.from_upstream(std::string_view(responses).substr(b, m), kNow);
      a += n;
      b += m;
      upstream += take(bed.x.to_upstream);
      client += take(bed.x.to_client);
    }
    REQUIRE(upstream == requests);
    REQUIRE(client == responses);
    REQUIRE(bed.counters.parse_errors == 0);
  }
}
