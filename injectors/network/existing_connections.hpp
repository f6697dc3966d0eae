#pragma once
// What a proxy fault (network.delay, tcp.toxic) does with the target's TCP connections that were open
// before the step: the proxy only sees connects made after the step started, so those connections keep
// going straight to their peers. `existing = "reset"` destroys the matching ones at step start (SOCK_DESTROY
// through sock_diag, as `ss -K` does) so that the clients reconnect through the proxy; the default "keep"
// leaves them and says in the step's detail how many were left untouched.
#include <nlohmann/json.hpp>

#include "config/table_reader.hpp"
#include "injectors/step.hpp"
#include "netfault.h"

namespace rebound {

enum class ExistingConnections { keep, reset };

// Reads the `existing` key; false after recording an error.
bool parse_existing_connections(TableReader& reader, ExistingConnections& out, nlohmann::json& parameters);

// The target's outgoing established TCP connections that `config` (peers, ports) matches: reset, or
// counted as untouched; a connection accepted on one of the target's listening ports is not a connect of the
// target and is left out. Notes what it did in context.detail.
[[nodiscard]] Result<void> handle_existing_connections(StepContext& context, ExistingConnections policy,
                                                       const netfault_config& config);

}  // namespace rebound
