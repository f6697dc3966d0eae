// The proxy's pacing (when held-back data may leave) and the toxics' shapes, without sockets or root.
#include <catch2/catch.hpp>
#include <numeric>
#include <toml++/toml.h>

#include "injectors/network/proxy_pacing.hpp"
#include "injectors/network/toxics/toxic.hpp"

using namespace rebound;

namespace {

constexpr int64_t kMs = 1000;  // pacing times are in microseconds

// One toxic as a step declares it ("latency = \"20ms\""), parsed by its own parser; errors in `errors`.
Toxic toxic(const std::string& type, const std::string& keys, std::string* errors = nullptr) {
  auto table = toml::parse(keys);
  Diagnostics diagnostics("test.toml");
  TableReader reader(table, "method[0]", diagnostics);
  Toxic t;
  t.type = find_toxic_type(type);
  REQUIRE(t.type);
  bool ok = parse_toxic(reader, "", t);
  reader.finish();
  if (errors) *errors = diagnostics.format_all();
  else REQUIRE(ok);
  return t;
}

FlowShape shape_of(const std::vector<Toxic>& toxics) {
  FlowShape shape;
  for (const auto& t : toxics) t.effect->shape_flow(shape);
  return shape;
}

std::deque<Segment> paced(const FlowShape& shape, size_t bytes, int64_t now = 0) {
  PacingState state;
  std::deque<Segment> queue;
  std::mt19937_64 random(7);
  pace(shape, state, queue, bytes, now, random);
  return queue;
}

size_t total(const std::deque<Segment>& queue) {
  return std::accumulate(queue.begin(), queue.end(), size_t{0}, [](size_t n, const Segment& s) { return n + s.bytes; });
}

}  // namespace

TEST_CASE("pacing without toxics passes data on at once, in one piece", "[proxy][pacing]") {
  auto q = paced(FlowShape{}, 5000, 42);
  REQUIRE(q.size() == 1);
  CHECK(q[0].bytes == 5000);
  CHECK(q[0].due == 42);
}

TEST_CASE("latency holds each chunk back from its arrival, and jitter never reorders", "[proxy][pacing]") {
  auto shape = shape_of({toxic("latency", "latency = \"100ms\"\njitter = \"40ms\"")});
  PacingState state;
  std::deque<Segment> queue;
  std::mt19937_64 random(1);
  int64_t previous = 0, low = INT64_MAX, high = 0;
  for (int64_t i = 0; i < 500; ++i) {
    int64_t now = i * kMs;
    pace(shape, state, queue, 100, now, random);
    int64_t due = queue.back().due;
    CHECK(due >= previous);                // in order
    CHECK(due >= now + 60 * kMs);          // never earlier than latency - jitter
    CHECK(due <= std::max(previous, now + 140 * kMs));  // later than latency + jitter only to keep the order
    low = std::min(low, due - now);
    high = std::max(high, due - now);
    previous = due;
  }
  CHECK(low < 85 * kMs);  // the spread is used (order keeping lifts the earliest draws)
  CHECK(high > 130 * kMs);
  CHECK(total(queue) == 500 * 100);
}

TEST_CASE("bandwidth paces a transfer to its rate in pieces of 10 ms", "[proxy][pacing]") {
  auto shape = shape_of({toxic("bandwidth", "rate = \"500kB\"")});
  auto q = paced(shape, 1'000'000, 0);
  CHECK(total(q) == 1'000'000);
  for (const auto& s : q) CHECK(s.bytes <= 5000);
  // 1 MB at 500 kB/s: the last piece leaves 10 ms before the two seconds are up.
  CHECK(q.back().due == 2'000 * kMs - 10 * kMs);
  for (size_t i = 1; i < q.size(); ++i) CHECK(q[i].due - q[i - 1].due == 10 * kMs);
}

TEST_CASE("slicer cuts data into chunks of average ± variation, delay apart", "[proxy][pacing]") {
  auto shape = shape_of({toxic("slicer", "average_size = 20\nsize_variation = 5\ndelay = \"3ms\"")});
  auto q = paced(shape, 1000, 0);
  CHECK(total(q) == 1000);
  CHECK(q.size() >= 40);
  for (size_t i = 0; i + 1 < q.size(); ++i) {  // the last one is what is left
    CHECK(q[i].bytes >= 15);
    CHECK(q[i].bytes <= 25);
  }
  CHECK(q.front().due == 0);
  for (size_t i = 1; i < q.size(); ++i) CHECK(q[i].due - q[i - 1].due == 3 * kMs);
}

TEST_CASE("stacked toxics: latencies add up, the lowest rate and byte limit win", "[proxy][pacing]") {
  auto shape = shape_of({toxic("latency", "latency = \"20ms\""), toxic("latency", "latency = \"30ms\""),
                         toxic("bandwidth", "rate = \"1MB\""), toxic("bandwidth", "rate = \"100kB\""),
                         toxic("limit_data", "bytes = 5000"), toxic("limit_data", "bytes = 3000")});
  CHECK(shape.latency_us == 50 * kMs);
  CHECK(shape.rate == 100'000);
  CHECK(shape.limit == 3000);
  auto q = paced(shape, 2000, 0);
  CHECK(q.front().due == 50 * kMs);  // latency first, then the rate
  CHECK(q.back().due == 50 * kMs + 10'240);  // 1024 bytes at 100 kB/s: 10.24 ms
}

TEST_CASE("the connection toxics: timeout drops data and closes at `after`, reset_peer resets at `after`",
          "[proxy][pacing]") {
  ConnectionShape c;
  FlowShape f;
  toxic("timeout", "after = \"500ms\"").effect->shape_connection(c);
  toxic("timeout", "after = \"500ms\"").effect->shape_flow(f);
  toxic("reset_peer", "after = \"2s\"").effect->shape_connection(c);
  toxic("reset_peer", "after = \"300ms\"").effect->shape_connection(c);
  CHECK(f.discard);
  CHECK(c.close_after_us == 500 * kMs);
  CHECK(c.reset_after_us == 300 * kMs);  // the earliest reset wins
  ConnectionShape never;
  toxic("timeout", "").effect->shape_connection(never);  // after = 0: never closed
  CHECK(never.close_after_us == kNoDeadline);
  FlowShape slow;
  toxic("slow_close", "delay = \"400ms\"").effect->shape_flow(slow);
  CHECK(slow.close_delay_us == 400 * kMs);
}

TEST_CASE("releasing held data moves every due time to now", "[proxy][pacing]") {
  auto shape = shape_of({toxic("latency", "latency = \"1s\"")});
  PacingState state;
  std::deque<Segment> queue;
  std::mt19937_64 random(1);
  pace(shape, state, queue, 100, 0, random);
  pace(shape, state, queue, 100, 5 * kMs, random);
  release(state, queue, 10 * kMs);
  for (const auto& s : queue) CHECK(s.due <= 10 * kMs);
  pace(FlowShape{}, state, queue, 100, 11 * kMs, random);
  CHECK(queue.back().due == 11 * kMs);
}

TEST_CASE("toxic parameters out of range are refused with a message that names the key", "[proxy][validation]") {
  std::string errors;
  toxic("slicer", "average_size = 0", &errors);
  CHECK(errors.find("average_size is a number of bytes, at least 1") != std::string::npos);
  toxic("slicer", "average_size = 10\nsize_variation = 10", &errors);
  CHECK(errors.find("size_variation must be from 0 to average_size - 1 (9)") != std::string::npos);
  toxic("limit_data", "bytes = -1", &errors);
  CHECK(errors.find("bytes is a count, 0 or more") != std::string::npos);
  toxic("latency", "latency = \"10ms\"\njitter = \"20ms\"", &errors);
  CHECK(errors.find("jitter cannot exceed latency") != std::string::npos);
  toxic("latency", "latency = \"10ms\"\ndirection = \"sideways\"", &errors);
  CHECK(errors.find("'sideways' is not a direction") != std::string::npos);
  toxic("latency", "latency = \"10ms\"\ntoxicity = 1.5", &errors);
  CHECK(errors.find("1.5 is not a ratio") != std::string::npos);
}

TEST_CASE("the toxic registry names every toxic once, in the order `rebound faults` shows", "[proxy]") {
  CHECK(toxic_names() == std::vector<std::string>{"latency", "bandwidth", "slow_close", "timeout", "reset_peer",
                                                  "slicer", "limit_data"});
  for (const auto& t : toxic_registry()) {
    CHECK(find_toxic_type(t.name) == &t);
    CHECK_FALSE(t.summary.empty());
  }
}
