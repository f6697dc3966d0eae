// reset_peer: both ends get a reset (ECONNRESET) `after` the connection's start.
#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct ResetPeer final : ToxicEffect {
  int64_t after_us = 0;  // 0: at once
  void shape_connection(ConnectionShape& c) const override { c.reset_after_us = std::min(c.reset_after_us, after_us); }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto after = reader.duration("after");
  auto t = std::make_unique<ResetPeer>();
  t->after_us = after ? micros(*after) : 0;
  parameters["after_ms"] = after ? after->count() : 0.0;
  return t;
}

}  // namespace

ToxicType reset_peer() {
  return {"reset_peer", "Resets the connection (RST to both ends: ECONNRESET) after `after`",
          {{"after", "duration", "0 (at once)", "from the connection's start"}},
          parse};
}

}  // namespace rebound::toxics
