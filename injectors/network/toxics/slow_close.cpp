// slow_close: data passes at once, the close (FIN) only after a delay.
#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct SlowClose final : ToxicEffect {
  int64_t delay_us = 0;
  void shape_flow(FlowShape& f) const override { f.close_delay_us += delay_us; }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto delay = reader.duration("delay", true);
  if (!delay) return nullptr;
  auto t = std::make_unique<SlowClose>();
  t->delay_us = micros(*delay);
  parameters["delay_ms"] = delay->count();
  return t;
}

}  // namespace

ToxicType slow_close() {
  return {"slow_close", "Passes data on, but passes the close (FIN) on only after a delay",
          {{"delay", "duration", "", "how long the close is held back"}},
          parse};
}

}  // namespace rebound::toxics
