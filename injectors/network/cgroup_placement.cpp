#include "injectors/network/cgroup_placement.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <vector>

#include "injectors/network/bpf_handles.hpp"
#include "injectors/network/cgroup_scope.hpp"

namespace rebound {

namespace {

// A cgroup interface file's text, whitespace at the end removed; nullopt when it cannot be read.
std::optional<std::string> read_trimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The limits set on `cgroup` (the files that exist and are not "max"), e.g. "memory.max 536870912".
std::string limits_of(const std::string& cgroup) {
  std::vector<std::string> set;
  for (const char* file : {"memory.max", "memory.high", "cpu.max", "pids.max", "io.max"}) {
    auto value = read_trimmed(cgroup + "/" + file);
    if (value && !value->empty() && *value != "max" && !value->starts_with("max "))
      set.push_back(fmt::format("{} {}", file, *value));
  }
  return set.empty() ? "" : fmt::format(" (its limits: {})", fmt::join(set, ", "));
}

}  // namespace

CgroupPlacement place_cgroup(int pid, const std::string& current_path) {
  std::string root = cgroup2_mount();
  std::string current = current_path;
  while (current.size() > root.size() && current.back() == '/') current.pop_back();
  if (current == root || is_rebound_cgroup(current)) return {current, ""};
  auto controllers = read_trimmed(current + "/cgroup.subtree_control");
  auto type = read_trimmed(current + "/cgroup.type");
  if (controllers && controllers->empty() && type && *type == "domain") return {current, ""};
  std::string why = !controllers || !type ? "its cgroup files cannot be read"
                    : !controllers->empty()
                        ? fmt::format("it enables controllers for its children ({}), and cgroup v2 does not let "
                                      "such a cgroup hold processes and child cgroups at once",
                                      *controllers)
                        : fmt::format("it is a {} cgroup", *type);
  return {root, fmt::format("pid {} left its cgroup {} for the fault, because rebound cannot make a cgroup inside "
                            "it ({}): that cgroup's limits{} and accounting do not apply to it until the step ends",
                            pid, current, why, limits_of(current))};
}

}  // namespace rebound
