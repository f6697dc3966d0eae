// limit_data: the connection is closed once this many bytes went through in the toxic's direction.
#include "injectors/network/toxics/toxic.hpp"

namespace rebound::toxics {

namespace {

struct LimitData final : ToxicEffect {
  uint64_t bytes = 0;
  void shape_flow(FlowShape& f) const override { f.limit = std::min(f.limit, bytes); }
};

std::unique_ptr<ToxicEffect> parse(TableReader& reader, nlohmann::json& parameters) {
  auto bytes = reader.integer("bytes", true);
  if (!bytes) return nullptr;
  if (*bytes < 0) {
    reader.error("bytes", "bytes is a count, 0 or more");
    return nullptr;
  }
  auto t = std::make_unique<LimitData>();
  t->bytes = static_cast<uint64_t>(*bytes);
  parameters["bytes"] = t->bytes;
  return t;
}

}  // namespace

ToxicType limit_data() {
  return {"limit_data", "Closes the connection once this many bytes went through in its direction",
          {{"bytes", "integer", "", "bytes passed before the close"}},
          parse};
}

}  // namespace rebound::toxics
