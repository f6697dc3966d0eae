// bandwidth: data is paced to a rate.
#include "injectors/network/network_fault.hpp"
#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct Bandwidth final : ToxicEffect {
  double rate = 0;  // bytes per second
  void shape_flow(FlowShape& f) const override { f.rate = f.rate == 0 ? rate : std::min(f.rate, rate); }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto rate = read_rate(reader, "rate");
  if (!rate) return nullptr;
  auto t = std::make_unique<Bandwidth>();
  t->rate = *rate;
  parameters["rate_bytes_per_sec"] = t->rate;
  return t;
}

}  // namespace

ToxicType bandwidth() {
  return {"bandwidth", "Paces data to a rate",
          {{"rate", "string", "", "\"512kbit\", \"1MB\" (per second; bit, kbit, mbit, gbit, B, kB, KiB, MB, MiB, GB)"}},
          parse};
}

}  // namespace rebound::toxics
