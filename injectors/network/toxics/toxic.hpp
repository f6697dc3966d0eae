#pragma once
// A toxic is one file, toxics/<name>.cpp: its parameters, its parser and its effect behind ToxicEffect, and
// one row in toxics/registry.cpp. An effect shapes a connection once, when the connection draws the toxic;
// the proxy's hot path (pacing, splicing) reads only the resulting shapes, with no per-toxic dispatch.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/table_reader.hpp"

namespace rebound {

constexpr int64_t kNoDeadline = INT64_MAX;

// What the toxics a connection drew do to one direction of it. Times are in microseconds. Stacked toxics
// combine: latencies add up, the lowest rate and byte limit win.
struct FlowShape {
  int64_t latency_us = 0, jitter_us = 0;  // each chunk is held back latency ± jitter (uniform)
  double rate = 0;                         // bytes per second; 0: unlimited
  int64_t close_delay_us = 0;              // the close goes on this long after the data ahead of it
  bool discard = false;                    // data is read and dropped
  int64_t slice_average = 0, slice_variation = 0, slice_delay_us = 0;  // chunks of average ± variation bytes
  uint64_t limit = UINT64_MAX;             // bytes passed on before the connection is closed
};

// What they do to the connection as a whole, counted from its start.
struct ConnectionShape {
  int64_t reset_after_us = kNoDeadline;  // both ends get a reset
  int64_t close_after_us = kNoDeadline;  // the connection is closed
};

// One declared toxic's effect, with its parameters. Immutable once parsed; shared by every connection.
class ToxicEffect {
 public:
  virtual ~ToxicEffect() = default;
  // Called for each direction the toxic is declared for.
  virtual void shape_flow(FlowShape&) const {}
  virtual void shape_connection(ConnectionShape&) const {}
};

// A row of the toxic registry.
struct ToxicType {
  std::string name;
  std::string summary;
  std::vector<ParamDoc> params;  // its own keys; direction and toxicity are common to all
  // Reads the toxic's own keys and notes them in `parameters` (for the journal); nullptr after recording errors.
  std::unique_ptr<ToxicEffect> (*parse)(TableReader& reader, nlohmann::json& parameters);
};

// A toxic as declared in a step.
struct Toxic {
  const ToxicType* type = nullptr;
  bool upstream = false;    // client -> server
  bool downstream = true;   // server -> client
  double toxicity = 1.0;    // the share of connections it applies to
  std::shared_ptr<const ToxicEffect> effect;
  nlohmann::json parameters = nlohmann::json::object();  // as written, for the journal
};

const std::vector<ToxicType>& toxic_registry();  // toxics/registry.cpp
const ToxicType* find_toxic_type(const std::string& name);
std::vector<std::string> toxic_names();
// Reads the type from `type_key` (unless toxic.type is set already), direction and toxicity, then the
// type's own keys. False after recording errors.
bool parse_toxic(TableReader& reader, const std::string& type_key, Toxic& toxic);
std::vector<ParamDoc> toxic_common_params();

namespace toxics {
int64_t micros(Millis d);
}

}  // namespace rebound
