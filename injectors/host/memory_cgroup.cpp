#include "injectors/host/memory_cgroup.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rebound {

namespace {
// v1 writes "no limit" as the largest page-aligned signed 64-bit number.
constexpr uint64_t kV1Unlimited = 0x7FFFFFFFFFFFF000ULL;
}  // namespace

MemoryCgroup::MemoryCgroup(std::string folder)
    : folder_(std::move(folder)), v2_(std::filesystem::exists(folder_ + "/memory.max")) {}

uint64_t MemoryCgroup::number(const std::string& file) const {
  std::ifstream in(folder_ + "/" + file);
  uint64_t value = 0;
  in >> value;
  return value;
}

uint64_t MemoryCgroup::keyed(const std::string& file, const std::string& key) const {
  std::ifstream in(folder_ + "/" + file);
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value)
    if (name == key) return value;
  return 0;
}

std::optional<uint64_t> MemoryCgroup::limit() const {
  if (v2_) {
    std::ifstream in(folder_ + "/memory.max");
    std::string text;
    in >> text;
    if (text.empty() || text == "max") return std::nullopt;
    return std::stoull(text);
  }
  const uint64_t value = number("memory.limit_in_bytes");
  if (value == 0 || value >= kV1Unlimited) return std::nullopt;
  return value;
}

uint64_t MemoryCgroup::usage() const { return number(v2_ ? "memory.current" : "memory.usage_in_bytes"); }

uint64_t MemoryCgroup::oom_kills() const {
  return v2_ ? keyed("memory.events", "oom_kill") : keyed("memory.oom_control", "oom_kill");
}

uint64_t MemoryCgroup::limit_hits() const { return v2_ ? keyed("memory.events", "max") : number("memory.failcnt"); }

std::optional<double> MemoryCgroup::pressure_some_avg10() const {
  if (!v2_) return std::nullopt;
  std::ifstream in(folder_ + "/memory.pressure");
  std::string kind, avg10;
  if (!(in >> kind >> avg10) || kind != "some" || avg10.rfind("avg10=", 0) != 0) return std::nullopt;
  return std::stod(avg10.substr(6));
}

}  // namespace rebound
