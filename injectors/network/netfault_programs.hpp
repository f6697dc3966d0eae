#pragma once
// The BPF programs of a network fault: which ones a fault type needs (its registry row's mask), whether this
// host can load and attach them, and what they counted.
#include <string>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/step.hpp"

namespace rebound {

// Program masks of the registry rows (bits of NetfaultProgram).
constexpr unsigned kTcPrograms = kTcIngress | kTcEgress;
constexpr unsigned kCgroupSkbPrograms = kCgroupIngress | kCgroupEgress;
constexpr unsigned kPacketPrograms = kTcPrograms | kCgroupSkbPrograms;  // on an interface or a cgroup
constexpr unsigned kConnectPrograms = kConnect4 | kConnect6;
constexpr unsigned kSteerPrograms = kSteer4 | kSteer6 | kSteerOps;

// Loads `programs` through the verifier into `skel`, unless it holds them already.
[[nodiscard]] Result<void> load_netfault_once(NetfaultSkeleton& skel, unsigned programs);

// Notes what the programs counted in the step's detail ("<counted>_seen", "_matched", "_affected", and
// "_unparsed" for packet programs) and unloads them. Nothing if they are not loaded.
void report_netfault_counters(StepContext& context, NetfaultSkeleton& skel, const std::string& counted,
                              unsigned programs);

// For `rebound doctor` and for refusing a step before anything runs: can this host load the programs in
// the mask and attach them (tc programs need the clsact qdisc; any other kind needs cgroup v2)? Cached.
Result<void> netfault_available(unsigned programs);

}  // namespace rebound
