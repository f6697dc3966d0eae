#pragma once
// One proxied HTTP/1.x connection, without its sockets: the bytes the client and the server sent go in, the
// bytes each of them is to get come out, with the rules' actions taken on the way. Requests and responses are
// framed (not rewritten) and forwarded verbatim, matched in order (a FIFO of requests waiting for their
// response), so keep-alive and pipelining keep working. Anything that is not HTTP/1.x passes through raw.
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "injectors/network/http/http_framing.hpp"
#include "injectors/network/http/http_rules.hpp"

namespace rebound {

inline constexpr int64_t kHttpNever = INT64_MAX;

// What the proxy saw and did, read by the step from another thread.
struct HttpCounters {
  explicit HttpCounters(size_t rules) : matched(new std::atomic<uint64_t>[rules]), rule_count(rules) {
    for (size_t i = 0; i < rules; ++i) matched[i] = 0;
  }
  std::atomic<uint64_t> connections{0}, requests{0}, responses{0}, non_http{0}, parse_errors{0}, upgraded{0};
  std::atomic<uint64_t> unknown_origin{0}, upstream_failures{0}, open{0};
  std::atomic<uint64_t> actions[kHttpActions] = {};
  std::unique_ptr<std::atomic<uint64_t>[]> matched;  // per rule: matching requests (drawn or not)
  size_t rule_count;
};

// Bytes on their way out of one socket. A gate holds everything after its offset until its time (a delay).
class Outbound {
 public:
  void append(std::string_view bytes) { data_.append(bytes); }
  size_t size() const { return data_.size() - head_; }
  bool empty() const { return size() == 0; }
  void gate(int64_t until) { gates_.push_back({sent_ + size(), until}); }
  // What may be written by `now`.
  std::string_view ready(int64_t now);
  void consume(size_t n);
  // When a gate that holds bytes opens (kHttpNever: none does).
  int64_t next_gate() const;
  void open_gates() { gates_.clear(); }

 private:
  struct Gate {
    uint64_t offset;
    int64_t until;
  };
  std::string data_;
  size_t head_ = 0;
  uint64_t sent_ = 0;  // bytes consumed since the start: gates' offsets count from there
  std::deque<Gate> gates_;
};

class HttpExchange {
 public:
  HttpExchange(const std::vector<HttpRule>& rules, HttpCounters& counters, std::mt19937_64& random);

  void from_client(std::string_view bytes, int64_t now);
  void from_upstream(std::string_view bytes, int64_t now);
  // The server closed: completes a response that ran until the close.
  void upstream_closed(int64_t now);
  // The rules end (the step reverted): no new action, delays held now are released.
  void end_rules();

  Outbound to_upstream, to_client;
  bool reset = false;         // a rule reset the connection: RST both ways now
  bool close_client = false;  // after to_client drains: an aborted request asked for Connection: close
  // Bytes received but not parsed yet (an incomplete head): counted against the connection's buffer.
  size_t held() const { return client_in_.size() + upstream_in_.size(); }
  bool synthetic_pending() const;
  int64_t next_deadline() const { return std::min(to_upstream.next_gate(), to_client.next_gate()); }

 private:
  struct Pending {  // a request waiting for its response
    std::string synthetic;  // abort: the response rebound answers with (in its turn)
    bool aborted = false, no_body = false, connect = false, upgrade = false, close_after = false;
    const HttpRule* rule = nullptr;  // delay (response phase) or replace
  };
  void parse_requests(int64_t now);
  void on_request_head(int64_t now);
  void parse_responses(int64_t now);
  void on_response_head(int64_t now);
  void emit_synthetic();
  void go_raw(bool parse_error);
  const HttpRule* choose_rule(const HttpHead& request);

  const std::vector<HttpRule>& rules_;
  HttpCounters& counters_;
  std::mt19937_64& random_;
  bool rules_ended_ = false;
  bool detected_ = false;  // the first bytes were checked for TLS and HTTP/2
  bool raw_ = false;       // passing through untouched from here on
  bool upstream_raw_after_request_ = false;  // a CONNECT was forwarded
  bool awaiting_upgrade_ = false;  // a request asked to upgrade: no parsing until its answer
  std::string client_in_, upstream_in_;
  HttpFraming request_{true}, response_{false};
  bool forward_request_ = true;   // the current request's bytes go upstream (an aborted one's are dropped)
  bool response_begun_ = false;
  bool forward_head_ = true, forward_body_ = true;  // the current response's (a replaced one's are not)
  bool tunnel_ = false;       // the current response switched protocols
  bool seen_request_ = false;  // one request parsed: a later parse error is broken HTTP, not another protocol
  std::deque<Pending> pending_;
};

// The response an abort answers with.
std::string synthetic_response(int status, const std::string& body, bool close);

}  // namespace rebound
