#include "injectors/network/http/http_exchange.hpp"

#include <boost/beast/http/status.hpp>
#include <fmt/format.h>
#include <strings.h>

namespace rebound {

namespace {

std::string_view reason_of(int status) {
  auto reason = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  if (!reason.empty() && reason[0] != '<') return std::string_view(reason.data(), reason.size());
  // A status Beast has no phrase for ("<unknown-status>"): its class's.
  return status < 300 ? "OK" : status < 400 ? "Redirection" : status < 500 ? "Client Error" : "Server Error";
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The replaced response's head: its status and fields, the rule's fields set over them, and framing for the new
// body when there is one.
std::string replaced_head(const HttpHead& head, const HttpRule& rule, bool no_body) {
  int status = rule.status ? rule.status : head.status;
  std::string out = fmt::format("HTTP/1.{} {} {}\r\n", head.version % 10, status,
                                rule.status ? reason_of(status) : std::string_view(head.reason));
  for (const auto& [name, value] : head.fields) {
    bool framing = same_name(name, "content-length") || same_name(name, "transfer-encoding");
    if (rule.body && framing) continue;
    bool overridden = false;
    for (const auto& set : rule.set_headers) overridden |= same_name(name, set.first);
    if (!overridden) out += fmt::format("{}: {}\r\n", name, value);
  }
  for (const auto& [name, value] : rule.set_headers) out += fmt::format("{}: {}\r\n", name, value);
  if (rule.body) out += fmt::format("Content-Length: {}\r\n", rule.body->size());
  out += "\r\n";
  if (rule.body && !no_body) out += *rule.body;
  return out;
}

}  // namespace

std::string synthetic_response(int status, const std::string& body, bool close) {
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n{}\r\n{}", status,
                     reason_of(status), body.size(), close ? "Connection: close\r\n" : "", body);
}

std::string_view Outbound::ready(int64_t now) {
  // Gates are in stream order, so the first one still closed holds everything after it.
  while (!gates_.empty() && gates_.front().until <= now) gates_.pop_front();
  size_t n = size();
  if (!gates_.empty()) n = std::min<uint64_t>(n, gates_.front().offset - sent_);
  return std::string_view(data_).substr(head_, n);
}

void Outbound::consume(size_t n) {
  head_ += n;
  sent_ += n;
  if (head_ == data_.size()) {
    data_.clear();
    head_ = 0;
  } else if (head_ > (64 << 10) && head_ * 2 > data_.size()) {
    data_.erase(0, head_);
    head_ = 0;
  }
}

int64_t Outbound::next_gate() const {
  if (!gates_.empty() && gates_.front().offset < sent_ + size()) return gates_.front().until;  // it holds bytes
  return kHttpNever;
}

HttpExchange::HttpExchange(const std::vector<HttpRule>& rules, HttpCounters& counters, std::mt19937_64& random)
    : rules_(rules), counters_(counters), random_(random) {}

bool HttpExchange::synthetic_pending() const { return !pending_.empty() && pending_.front().aborted; }

void HttpExchange::end_rules() {
  rules_ended_ = true;
  to_upstream.open_gates();
  to_client.open_gates();
}

void HttpExchange::go_raw(bool parse_error) {
  if (raw_) return;
  raw_ = true;
  if (parse_error) ++counters_.parse_errors;
  to_upstream.append(client_in_);
  to_client.append(upstream_in_);
  client_in_.clear();
  upstream_in_.clear();
}

void HttpExchange::from_client(std::string_view bytes, int64_t now) {
  if (raw_ || upstream_raw_after_request_) return to_upstream.append(bytes);
  client_in_.append(bytes);
  parse_requests(now);
  emit_synthetic();
}

void HttpExchange::from_upstream(std::string_view bytes, int64_t now) {
  if (raw_) return to_client.append(bytes);
  upstream_in_.append(bytes);
  parse_responses(now);
  emit_synthetic();
  if (!raw_ && !awaiting_upgrade_ && !client_in_.empty()) parse_requests(now);  // held while an upgrade was asked
}

void HttpExchange::upstream_closed(int64_t now) {
  if (raw_ || !response_begun_) return;
  parse_responses(now);
  if (response_begun_ && response_.header_done() && response_.put_eof()) {
    response_begun_ = false;
    ++counters_.responses;
    if (!pending_.empty()) pending_.pop_front();
    emit_synthetic();
  }
}

void HttpExchange::parse_requests(int64_t now) {
  size_t used = 0;
  while (used < client_in_.size() && !raw_ && !awaiting_upgrade_ && !reset && !upstream_raw_after_request_) {
    std::string_view rest = std::string_view(client_in_).substr(used);
    if (!detected_) {
      auto other = looks_like_other_protocol(rest);
      if (!other) break;  // too few bytes to tell
      detected_ = true;
      if (*other) {
        ++counters_.non_http;
        client_in_.erase(0, used);
        return go_raw(false);
      }
    }
    auto step = request_.put(rest);
    if (step.error) {
      client_in_.erase(0, used);
      // Not one request parsed on this connection: another protocol rather than broken HTTP.
      bool first = !seen_request_;
      if (first) ++counters_.non_http;
      return go_raw(!first);
    }
    if (step.header) on_request_head(now);
    if (reset) return;
    if (forward_request_) to_upstream.append(rest.substr(0, step.consumed));
    used += step.consumed;
    if (step.done) {
      if (!pending_.empty() && pending_.back().upgrade && !pending_.back().aborted) awaiting_upgrade_ = true;
      request_.start();
      forward_request_ = true;
    }
    if (step.stalled()) break;
  }
  client_in_.erase(0, used);
  if (upstream_raw_after_request_) {
    to_upstream.append(client_in_);
    client_in_.clear();
  }
}

const HttpRule* HttpExchange::choose_rule(const HttpHead& request) {
  if (rules_ended_) return nullptr;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (!rules_[i].matches(request)) continue;
    ++counters_.matched[i];
    double p = rules_[i].probability;
    if (p >= 1.0 || std::uniform_real_distribution<double>(0.0, 1.0)(random_) < p) return &rules_[i];
    return nullptr;  // first match wins, drawn or not
  }
  return nullptr;
}

void HttpExchange::on_request_head(int64_t now) {
  ++counters_.requests;
  seen_request_ = true;
  const HttpHead& head = request_.head();
  Pending p;
  p.no_body = head.method == "HEAD";
  p.connect = head.method == "CONNECT";
  p.upgrade = request_.upgrade();
  const HttpRule* rule = choose_rule(head);
  if (rule) ++counters_.actions[static_cast<size_t>(rule->action)];
  switch (rule ? rule->action : HttpAction::delay) {
    case HttpAction::abort:
      p.aborted = true;
      // A client that waits for 100 Continue before its body may send it anyway: after an answer without it, the
      // connection is closed rather than its body taken for the next request.
      p.close_after = !request_.keep_alive() || (head.field("expect") && !request_.done());
      p.synthetic = synthetic_response(rule->status, rule->body.value_or(""), p.close_after);
      forward_request_ = false;  // its body too: the server never sees it
      break;
    case HttpAction::reset:
      reset = true;
      return;
    case HttpAction::delay:
      if (!rule) break;
      if (rule->delay_response) p.rule = rule;
      else to_upstream.gate(now + rule->delay_us);  // pipelined requests behind it wait too: order is kept
      break;
    case HttpAction::replace:
      p.rule = rule;
      break;
  }
  if (p.connect && !p.aborted) upstream_raw_after_request_ = true;
  pending_.push_back(std::move(p));
}

void HttpExchange::parse_responses(int64_t now) {
  size_t used = 0;
  while (used < upstream_in_.size() && !raw_) {
    if (!response_begun_) {
      emit_synthetic();
      const Pending* front = pending_.empty() ? nullptr : &pending_.front();
      response_.start(front && (front->no_body || front->connect));
      response_begun_ = true;
      forward_head_ = true;
      forward_body_ = true;
      tunnel_ = false;
    }
    std::string_view rest = std::string_view(upstream_in_).substr(used);
    auto step = response_.put(rest);
    if (step.error) {
      upstream_in_.erase(0, used);
      return go_raw(true);
    }
    if (step.header) on_response_head(now);
    // With a head, the consumed bytes are the head (the parser stops after it) and, for a message without a
    // body, all of it.
    if (step.header ? forward_head_ : forward_body_) to_client.append(rest.substr(0, step.consumed));
    used += step.consumed;
    if (tunnel_) {  // 101 Switching Protocols, or a CONNECT's tunnel: raw from here, both ways
      upstream_in_.erase(0, used);
      response_begun_ = false;
      pending_.clear();
      return go_raw(false);
    }
    if (step.done) {
      response_begun_ = false;
      int status = response_.head().status;
      if ((status < 100 || status >= 200) && !pending_.empty()) pending_.pop_front();  // 1xx: the final one follows
      ++counters_.responses;
    }
    if (step.stalled()) break;
  }
  upstream_in_.erase(0, used);
}

void HttpExchange::on_response_head(int64_t now) {
  const HttpHead& head = response_.head();
  Pending* front = pending_.empty() ? nullptr : &pending_.front();
  bool informational = head.status >= 100 && head.status < 200 && head.status != 101;
  if (head.status == 101 || (front && front->connect && head.status >= 200 && head.status < 300)) {
    ++counters_.upgraded;
    tunnel_ = true;
    return;
  }
  if (front && front->upgrade && !informational) awaiting_upgrade_ = false;
  if (!front || !front->rule || informational || rules_ended_) return;
  const HttpRule& rule = *front->rule;
  if (rule.action == HttpAction::delay) {
    to_client.gate(now + rule.delay_us);
    return;
  }
  // replace: rebound's head instead of the server's (and its body, if the rule gives one).
  to_client.append(replaced_head(head, rule, front->no_body));
  forward_head_ = false;
  forward_body_ = !rule.body;  // the server's body goes on unless replaced
}

void HttpExchange::emit_synthetic() {
  while (!response_begun_ && !pending_.empty() && pending_.front().aborted) {
    to_client.append(pending_.front().synthetic);
    close_client |= pending_.front().close_after;
    pending_.pop_front();
  }
}

}  // namespace rebound
