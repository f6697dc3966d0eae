// timeout: no data gets through (it is read and dropped); the connection is closed `after` its start.
#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct Timeout final : ToxicEffect {
  int64_t after_us = 0;  // 0: never closed
  void shape_flow(FlowShape& f) const override { f.discard = true; }
  void shape_connection(ConnectionShape& c) const override {
    if (after_us > 0) c.close_after_us = std::min(c.close_after_us, after_us);
  }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto after = reader.duration("after");
  auto t = std::make_unique<Timeout>();
  t->after_us = after ? micros(*after) : 0;
  parameters["after_ms"] = after ? after->count() : 0.0;
  return t;
}

}  // namespace

ToxicType timeout() {
  return {"timeout", "Drops all data; closes the connection after `after` (never when 0)",
          {{"after", "duration", "0 (never)", "from the connection's start"}},
          parse};
}

}  // namespace rebound::toxics
