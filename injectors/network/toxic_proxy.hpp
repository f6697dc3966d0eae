#pragma once
// rebound's TCP proxy for steered connections: one epoll loop in one thread, data moved with splice()
// through a bounded pipe per direction (no copy into rebound), toxics applied per connection.
#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "experiments/result.hpp"
#include "experiments/table_reader.hpp"
#include "injectors/network/bpf_handles.hpp"

namespace rebound {

// What one toxic does to a connection, in one or both directions. Times are in microseconds.
struct Toxic {
  std::string type;          // a name from toxic_registry()
  bool upstream = false;     // client -> server
  bool downstream = true;    // server -> client
  double toxicity = 1.0;     // the share of connections it applies to
  int64_t latency_us = 0;    // latency
  int64_t jitter_us = 0;     // latency: uniform in [-jitter, +jitter]
  double rate = 0;           // bandwidth: bytes per second
  int64_t delay_us = 0;      // slow_close: before the close is passed on; slicer: between chunks
  int64_t after_us = 0;      // timeout, reset_peer: from the connection's start
  int64_t average_size = 0;  // slicer
  int64_t size_variation = 0;
  uint64_t bytes = 0;        // limit_data
  nlohmann::json parameters = nlohmann::json::object();  // as written, for the journal
};

// The one table of toxics: each reads its own keys from a TOML table into a Toxic.
struct ToxicType {
  std::string name;
  std::string summary;
  std::vector<ParamDoc> params;  // its own keys; direction and toxicity are common to all
  bool (*parse)(TableReader& reader, Toxic& toxic);
};
const std::vector<ToxicType>& toxic_registry();
const ToxicType* find_toxic_type(const std::string& name);
// Reads the type from `type_key` (unless toxic.type is set already), direction and toxicity, then the
// type's own keys. False after recording errors.
bool parse_toxic(TableReader& reader, const std::string& type_key, Toxic& toxic);
std::vector<ParamDoc> toxic_common_params();

struct ProxyStats {
  uint64_t connections = 0;       // accepted from steered clients
  uint64_t toxic_connections = 0; // that drew at least one toxic
  uint64_t unknown_origin = 0;    // accepted without a recorded destination (reset at once)
  uint64_t upstream_failures = 0; // the original destination refused or failed
  uint64_t resets = 0;            // connections rebound reset (reset_peer, errors)
  uint64_t bytes_upstream = 0;
  uint64_t bytes_downstream = 0;
  uint64_t open = 0;              // still open
};

class ToxicProxy {
 public:
  // Listens on loopback (IPv4 and, where the namespace has it, IPv6) in the network namespace of
  // `netns_pid` (0: rebound's own), and starts the loop. `origins` is the steering map (rebound keeps a
  // duplicate of the descriptor, so the proxy outlives the programs).
  // `buffer_bytes`: what each direction of a connection may hold back (a pipe's capacity): the memory bound.
  static Result<std::unique_ptr<ToxicProxy>> start(std::vector<Toxic> toxics, int origins_map_fd, pid_t netns_pid,
                                                   size_t buffer_bytes = kDefaultBuffer);
  ~ToxicProxy();  // stops the loop and closes every connection still open

  uint16_t port4() const { return port4_; }
  uint16_t port6() const { return port6_; }
  uint64_t netns_cookie() const { return netns_cookie_; }
  // From now on no connection gets a toxic; data held back is released at once.
  void end_toxics();
  ProxyStats stats() const;
  // Deadlines the loop keeps (for tests: they stay at most one per connection).
  size_t timer_entries() const;

  static constexpr size_t kDefaultBuffer = 1 << 20;
  static constexpr size_t kMinBuffer = 64 << 10;
  static constexpr size_t kMaxBuffer = 64 << 20;
  // Pipes one direction of a connection may hold at once (two descriptors each).
  static constexpr size_t kMaxPipesPerFlow = 8;

 private:
  struct Loop;
  ToxicProxy() = default;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  uint16_t port4_ = 0, port6_ = 0;
  uint64_t netns_cookie_ = 0;
};

}  // namespace rebound
