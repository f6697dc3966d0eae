#include "injectors/network/toxics/toxic.hpp"

#include <fmt/format.h>

namespace rebound {

int64_t toxics::micros(Millis d) { return static_cast<int64_t>(d.count() * 1000.0); }

const ToxicType* find_toxic_type(const std::string& name) {
  for (const auto& t : toxic_registry())
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> toxic_names() {
  std::vector<std::string> names;
  for (const auto& t : toxic_registry()) names.push_back(t.name);
  return names;
}

std::vector<ParamDoc> toxic_common_params() {
  return {{"direction", "string", "\"downstream\"", "\"downstream\" (server to client), \"upstream\" or \"both\""},
          {"toxicity", "ratio", "1.0", "share of connections the toxic applies to"}};
}

bool parse_toxic(TableReader& reader, const std::string& type_key, Toxic& toxic) {
  if (!toxic.type) {
    auto name = reader.string(type_key, true);
    if (!name) return false;
    toxic.type = find_toxic_type(*name);
    if (!toxic.type) {
      reader.error(type_key, fmt::format("'{}' is not a toxic: use one of {}", *name, fmt::join(toxic_names(), ", ")));
      return false;
    }
  }
  bool ok = true;
  std::string direction = reader.string("direction").value_or("downstream");
  toxic.upstream = direction == "upstream" || direction == "both";
  toxic.downstream = direction == "downstream" || direction == "both";
  if (!toxic.upstream && !toxic.downstream) {
    reader.error("direction", fmt::format("'{}' is not a direction: use \"downstream\" (server to client), "
                                          "\"upstream\" (client to server) or \"both\"",
                                          direction));
    ok = false;
  }
  if (auto p = reader.number("toxicity")) {
    if (*p < 0 || *p > 1) {
      reader.error("toxicity", fmt::format("{} is not a ratio: use a number from 0 to 1 (0.3 for 30% of connections)", *p));
      ok = false;
    }
    toxic.toxicity = *p;
  }
  auto effect = toxic.type->parse(reader, toxic.parameters);
  if (!effect) ok = false;
  toxic.effect = std::move(effect);
  toxic.parameters["toxic"] = toxic.type->name;
  toxic.parameters["direction"] = direction;
  toxic.parameters["toxicity"] = toxic.toxicity;
  return ok;
}

}  // namespace rebound
