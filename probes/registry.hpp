#pragma once
// The one table of probe types: name -> factory that parses its own TOML table.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/table_reader.hpp"
#include "system/targets.hpp"
#include "config/variables.hpp"
#include "probes/probe.hpp"

namespace rebound {

struct ProbeFactoryContext {
  const Variables& vars;
  const std::vector<TargetSpec>& targets;
  Millis timeout;  // the probe's declared (or default) timeout
};

struct ProbeType {
  std::string name;
  std::string summary;
  std::vector<ParamDoc> params;
  // nullptr after recording errors in the reader.
  std::function<std::unique_ptr<Probe>(TableReader&, const ProbeFactoryContext&)> parse;
};

const std::vector<ProbeType>& probe_registry();
const ProbeType* find_probe_type(const std::string& name);

}  // namespace rebound
