// slicer: data is split into chunks of average_size ± size_variation bytes, `delay` apart.
#include <fmt/format.h>

#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct Slicer final : ToxicEffect {
  int64_t average_size = 0, size_variation = 0, delay_us = 0;
  void shape_flow(FlowShape& f) const override {
    f.slice_average = average_size;
    f.slice_variation = size_variation;
    f.slice_delay_us = delay_us;
  }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto average = reader.integer("average_size", true);
  auto variation = reader.integer("size_variation");
  auto delay = reader.duration("delay");
  if (!average) return nullptr;
  if (*average < 1) {
    reader.error("average_size", "average_size is a number of bytes, at least 1");
    return nullptr;
  }
  auto t = std::make_unique<Slicer>();
  t->average_size = *average;
  t->size_variation = variation.value_or(0);
  if (t->size_variation < 0 || t->size_variation >= t->average_size) {
    reader.error("size_variation", fmt::format("size_variation must be from 0 to average_size - 1 ({})", *average - 1));
    return nullptr;
  }
  t->delay_us = delay ? micros(*delay) : 0;
  parameters["average_size"] = t->average_size;
  parameters["size_variation"] = t->size_variation;
  parameters["delay_ms"] = delay ? delay->count() : 0.0;
  return t;
}

}  // namespace

ToxicType slicer() {
  return {"slicer", "Splits data into small chunks with a delay between them",
          {{"average_size", "integer", "", "bytes per chunk on average"},
           {"size_variation", "integer", "0", "chunks vary by up to this many bytes"},
           {"delay", "duration", "0", "between chunks"}},
          parse};
}

}  // namespace rebound::toxics
