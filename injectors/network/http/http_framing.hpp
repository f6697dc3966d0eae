#pragma once
// Where HTTP/1.x messages begin and end in a byte stream, and what their heads say, by Boost.Beast's parser.
// The parser only finds the boundaries: rebound forwards the bytes themselves verbatim (chunked bodies, trailers
// and all). One message at a time: start() before each (keep-alive and pipelining are a sequence of messages).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rebound {

struct HttpHead {
  std::string method, target;  // requests
  int status = 0;              // responses
  std::string reason;
  int version = 11;  // 10 or 11 (HTTP/1.0, HTTP/1.1)
  std::vector<std::pair<std::string, std::string>> fields;  // as received, in order
  // The first field of that name (case-insensitive), or nullptr.
  const std::string* field(std::string_view name) const;
};

class HttpFraming {
 public:
  struct Step {
    bool error = false;   // not HTTP/1.x (or broken): pass the rest through untouched
    bool header = false;  // the head completed in this step (head() is readable); the consumed bytes end with it
    bool done = false;    // the message is complete; the consumed bytes end with it
    size_t consumed = 0;  // bytes of `data` that belong to the current message
    bool stalled() const { return !error && !header && !done && consumed == 0; }  // needs more bytes
  };

  explicit HttpFraming(bool request);
  ~HttpFraming();
  HttpFraming(HttpFraming&&) noexcept;
  HttpFraming& operator=(HttpFraming&&) noexcept;

  // Begins the next message. `no_body`: a response to HEAD (or to a CONNECT that succeeded).
  void start(bool no_body = false);
  // Parses what it can of `data` (stops after the head, so the caller can decide before the body).
  Step put(std::string_view data);
  // The peer closed: completes a response whose body runs until the close; false if the message is cut short.
  bool put_eof();
  bool started() const;  // some bytes of the current message were parsed
  bool header_done() const;
  bool done() const;
  bool keep_alive() const;
  bool upgrade() const;
  bool chunked() const;
  const HttpHead& head() const;
  std::string error() const { return error_; }

  static constexpr uint32_t kHeaderLimit = 64 << 10;

 private:
  struct Parser;
  bool request_;
  std::unique_ptr<Parser> parser_;  // on the heap with the head it fills: a framing can move
  std::string error_;
};

// True when the stream's first bytes are a TLS record or the HTTP/2 preface: not HTTP/1.x, whatever follows.
// `first` may be short: nullopt while it cannot tell yet.
std::optional<bool> looks_like_other_protocol(std::string_view first);

}  // namespace rebound
