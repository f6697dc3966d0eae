#pragma once
// The one switch of a prepared network fault: its programs read `armed` on their next packet or connect.
#include <chrono>

#include "injectors/step.hpp"

namespace rebound {

// Switches the programs on or off at one instant and notes that instant as the step's applied or reverted time,
// unless an earlier switch of the same apply or revert already noted it (switch_off, then revert).
inline void switch_armed(unsigned int& armed, bool on, StepContext& context) {
  __atomic_store_n(&armed, on ? 1u : 0u, __ATOMIC_SEQ_CST);
  if (!context.switched_at) context.switched_at = std::chrono::steady_clock::now();
}

}  // namespace rebound
