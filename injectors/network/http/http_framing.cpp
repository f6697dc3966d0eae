#include "injectors/network/http/http_framing.hpp"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>
#include <strings.h>

namespace rebound {

namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;
using boost::beast::string_view;

std::string copy(string_view s) { return std::string(s.data(), s.size()); }

// The callbacks note the head; the body is only counted (the caller forwards the bytes it came in).
template <bool isRequest>
class BoundaryParser final : public http::basic_parser<isRequest> {
 public:
  explicit BoundaryParser(HttpHead& head) : head_(head) {
    this->header_limit(HttpFraming::kHeaderLimit);
    // Bodies are forwarded, never held: no limit to enforce. Not boost::none: Beast 1.74 compares a
    // Content-Length with the optional limit, and any length is greater than none.
    this->body_limit(std::numeric_limits<std::uint64_t>::max());
  }

 private:
  void on_request_impl(http::verb, string_view method, string_view target, int version, error_code&) override {
    head_.method = copy(method);
    head_.target = copy(target);
    head_.version = version;
  }
  void on_response_impl(int code, string_view reason, int version, error_code&) override {
    head_.status = code;
    head_.reason = copy(reason);
    head_.version = version;
  }
  void on_field_impl(http::field, string_view name, string_view value, error_code&) override {
    head_.fields.emplace_back(copy(name), copy(value));
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const&, error_code&) override {}
  size_t on_body_impl(string_view body, error_code&) override { return body.size(); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override { return body.size(); }
  void on_finish_impl(error_code&) override {}

  HttpHead& head_;
};

}  // namespace

struct HttpFraming::Parser {
  HttpHead head;
  std::optional<BoundaryParser<true>> request;
  std::optional<BoundaryParser<false>> response;
  template <class F>
  auto with(F&& f) {
    return request ? f(*request) : f(*response);
  }
};

const std::string* HttpHead::field(std::string_view name) const {
  for (const auto& [n, v] : fields)
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), name.size()) == 0) return &v;
  return nullptr;
}

HttpFraming::HttpFraming(bool request) : request_(request), parser_(std::make_unique<Parser>()) { start(); }
HttpFraming::~HttpFraming() = default;
HttpFraming::HttpFraming(HttpFraming&&) noexcept = default;
HttpFraming& HttpFraming::operator=(HttpFraming&&) noexcept = default;

const HttpHead& HttpFraming::head() const { return parser_->head; }

void HttpFraming::start(bool no_body) {
  HttpHead& head_ = parser_->head;
  head_ = HttpHead{};
  // Beast's parser parses one message: a new one per message.
  if (request_) {
    parser_->request.emplace(head_);
  } else {
    parser_->response.emplace(head_);
    if (no_body) parser_->response->skip(true);
  }
}

HttpFraming::Step HttpFraming::put(std::string_view data) {
  if (data.empty()) return {};
  const HttpHead& head_ = parser_->head;
  return parser_->with([&](auto& p) -> Step {
    if (p.is_done()) return {false, false, true, 0};
    bool had_header = p.is_header_done();
    error_code ec;
    size_t n = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
    if (ec == http::error::need_more) ec = {};
    if (ec) {
      error_ = ec.message();
      return {true, false, false, n};
    }
    bool header = p.is_header_done() && !had_header;
    // A head that is not HTTP/1.0 or 1.1 ("PRI * HTTP/2.0", "HTTP/2 200"): another protocol.
    if (header && head_.version != 10 && head_.version != 11) {
      error_ = "not HTTP/1.x (version " + std::to_string(head_.version) + ")";
      return {true, false, false, 0};
    }
    return {false, header, p.is_done(), n};
  });
}

bool HttpFraming::put_eof() {
  return parser_->with([&](auto& p) {
    error_code ec;
    p.put_eof(ec);
    return !ec && p.is_done();
  });
}

bool HttpFraming::started() const {
  return parser_->with([](auto& p) { return p.got_some(); });
}
bool HttpFraming::header_done() const {
  return parser_->with([](auto& p) { return p.is_header_done(); });
}
bool HttpFraming::done() const {
  return parser_->with([](auto& p) { return p.is_done(); });
}
bool HttpFraming::keep_alive() const {
  return parser_->with([](auto& p) { return p.keep_alive(); });
}
bool HttpFraming::upgrade() const {
  return parser_->with([](auto& p) { return p.upgrade(); });
}
bool HttpFraming::chunked() const {
  return parser_->with([](auto& p) { return p.chunked(); });
}

std::optional<bool> looks_like_other_protocol(std::string_view first) {
  if (first.empty()) return std::nullopt;
  if (first[0] == 0x16) return true;  // a TLS handshake record (ClientHello)
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n";
  size_t n = std::min(first.size(), kPreface.size());
  if (first.substr(0, n) == kPreface.substr(0, n)) return n == kPreface.size() ? std::optional<bool>(true) : std::nullopt;
  return false;
}

}  // namespace rebound
