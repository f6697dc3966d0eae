// latency: each chunk of data is held back for latency ± jitter, in order.
#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct Latency final : ToxicEffect {
  int64_t latency_us = 0, jitter_us = 0;
  void shape_flow(FlowShape& f) const override {
    f.latency_us += latency_us;
    f.jitter_us += jitter_us;
  }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto latency = reader.duration("latency", true);
  auto jitter = reader.duration("jitter");
  if (!latency) return nullptr;
  auto t = std::make_unique<Latency>();
  t->latency_us = micros(*latency);
  t->jitter_us = jitter ? micros(*jitter) : 0;
  if (t->jitter_us > t->latency_us) {
    reader.error("jitter", "jitter cannot exceed latency (data cannot arrive before it was sent)");
    return nullptr;
  }
  parameters["latency_ms"] = latency->count();
  parameters["jitter_ms"] = jitter ? jitter->count() : 0.0;
  return t;
}

}  // namespace

ToxicType latency() {
  return {"latency", "Holds each chunk of data back for latency ± jitter (uniform), keeping its order",
          {{"latency", "duration", "", "added delay, e.g. \"200ms\""},
           {"jitter", "duration", "0", "spread, uniform in [-jitter, +jitter]"}},
          parse};
}

}  // namespace rebound::toxics
