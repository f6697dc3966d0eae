#pragma once
// A memory cgroup's figures, read the same way from cgroup v2 (memory.max, memory.events) and from the v1 memory
// controller of hybrid hosts (memory.limit_in_bytes, memory.oom_control).
#include <cstdint>
#include <optional>
#include <string>

namespace rebound {

class MemoryCgroup {
 public:
  explicit MemoryCgroup(std::string folder);
  const std::string& folder() const { return folder_; }
  bool v2() const { return v2_; }
  std::optional<uint64_t> limit() const;  // nullopt: no limit
  uint64_t usage() const;                 // bytes charged now
  uint64_t oom_kills() const;             // processes the OOM killer has killed in it so far
  uint64_t limit_hits() const;            // times an allocation hit the limit (v2 "max" events, v1 failcnt)
  std::optional<double> pressure_some_avg10() const;  // v2 PSI: share of time some task stalled on memory

 private:
  uint64_t number(const std::string& file) const;
  uint64_t keyed(const std::string& file, const std::string& key) const;
  std::string folder_;
  bool v2_ = false;
};

}  // namespace rebound
