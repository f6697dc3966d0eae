#include "injectors/network/existing_sockets.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <sys/stat.h>

#include "system/socket_table.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

uint64_t inode_of(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool at_or_below(const std::string& path, const std::vector<std::string>& roots) {
  return std::any_of(roots.begin(), roots.end(),
                     [&](const std::string& r) { return path == r || path.starts_with(r + "/"); });
}

constexpr size_t kListed = 8;  // sockets described one by one in the step's detail

}  // namespace

std::string cgroup_path_of_id(uint64_t id, const std::vector<std::string>& hints) {
  std::string root = cgroup2_mount();
  if (root.empty() || id == 0) return "";
  for (const auto& hint : hints)
    for (fs::path p = hint; p.string().starts_with(root); p = p.parent_path()) {
      if (inode_of(p.string()) == id) return p.string();
      if (p.string() == root) break;
    }
  std::error_code ec;
  if (inode_of(root) == id) return root;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec) && inode_of(it->path().string()) == id) return it->path().string();
  return "";
}

Result<void> ExistingSockets::apply(StepContext& context, netfault_bpf& skel, unsigned programs,
                                    const std::vector<std::string>& covered) {
  std::vector<pid_t> pids;
  std::vector<std::string> hints;
  for (const auto& p : context.processes) {
    pids.push_back(p.pid);
    if (auto c = process_cgroup(p.pid)) hints.push_back(*c);
  }
  auto sockets = sockets_of(pids);
  if (!sockets) return fail(fmt::format("cannot list the target's existing sockets: {}", sockets.error().message));
  std::map<std::string, size_t> by_cgroup;  // the cgroups to attach to, and how many sockets each has
  size_t listed = 0, unknown = 0;
  nlohmann::json described = nlohmann::json::array();
  int map_fd = bpf_map__fd(skel.maps.target_sockets);
  for (const auto& s : *sockets) {
    std::string cgroup = cgroup_path_of_id(s.cgroup_id, hints);
    if (cgroup.empty()) {
      ++unknown;
      continue;
    }
    if (at_or_below(cgroup, covered)) continue;  // the step's own programs see this one
    uint8_t one = 1;
    if (bpf_map_update_elem(map_fd, &s.cookie, &one, BPF_ANY) != 0)
      return fail_errno(fmt::format("cannot note the target's socket {} for the fault", s.describe()));
    ++by_cgroup[cgroup];
    ++listed;
    if (described.size() < kListed) described.push_back(s.describe());
  }
  const std::pair<bpf_program*, unsigned> candidates[] = {{skel.progs.netfault_sockets_ingress, kSocketsIngress},
                                                          {skel.progs.netfault_sockets_egress, kSocketsEgress}};
  for (const auto& [cgroup, count] : by_cgroup) {
    Fd fd(open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("cannot open cgroup {} (where the target's existing sockets are)", cgroup));
    for (auto [prog, bit] : candidates) {
      if (!(programs & bit)) continue;
      bpf_link* link = bpf_program__attach_cgroup(prog, fd.get());
      if (!link) return fail_errno(fmt::format("cannot attach {} to cgroup {}", bpf_program__name(prog), cgroup));
      links_.emplace_back(link);
    }
  }
  context.detail["existing_sockets"] = listed;
  if (!described.empty()) context.detail["existing_socket_list"] = described;
  if (!by_cgroup.empty()) {
    std::vector<std::string> where;
    for (const auto& [cgroup, count] : by_cgroup) where.push_back(cgroup);
    context.detail["existing_socket_cgroups"] = where;
  }
  if (unknown > 0)
    context.detail["existing_sockets_unreached"] =
        fmt::format("{} socket(s) whose cgroup could not be found are not affected", unknown);
  return {};
}

Result<void> ExistingSockets::revert() {
  std::vector<std::string> errors;
  for (auto& l : links_)
    if (auto r = l.destroy(); !r) errors.push_back(r.error().message);
  links_.clear();
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

}  // namespace rebound
