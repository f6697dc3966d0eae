#include "injectors/network/existing_sockets.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <filesystem>
#include <fmt/format.h>
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

Result<ExistingSockets::Found> ExistingSockets::cover(const std::vector<ProcessInfo>& processes, netfault_bpf& skel,
                                                      unsigned programs, const std::vector<std::string>& covered) {
  std::vector<pid_t> pids;
  std::vector<std::string> hints;
  for (const auto& p : processes) {
    pids.push_back(p.pid);
    if (auto c = process_cgroup(p.pid)) hints.push_back(*c);
  }
  auto sockets = sockets_of(pids);
  if (!sockets) return fail(fmt::format("cannot list the target's existing sockets: {}", sockets.error().message));
  Found found;
  int map_fd = bpf_map__fd(skel.maps.target_sockets);
  for (const auto& s : *sockets) {
    std::string cgroup = cgroup_path_of_id(s.cgroup_id, hints);
    if (cgroup.empty()) {
      ++found.unknown;
      continue;
    }
    if (at_or_below(cgroup, covered)) continue;  // the step's own programs see this one
    uint8_t one = 1;
    if (bpf_map_update_elem(map_fd, &s.cookie, &one, BPF_ANY) != 0)
      return fail_errno(fmt::format("cannot note the target's socket {} for the fault", s.describe()));
    found.cgroups.insert(cgroup);
    ++found.listed;
    if (found.described.size() < kListed) found.described.push_back(s.describe());
  }
  const std::pair<bpf_program*, unsigned> candidates[] = {{skel.progs.netfault_sockets_ingress, kSocketsIngress},
                                                          {skel.progs.netfault_sockets_egress, kSocketsEgress}};
  for (const auto& cgroup : found.cgroups) {
    if (!attached_.insert(cgroup).second) continue;  // attached for earlier sockets
    Fd fd(open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno(fmt::format("cannot open cgroup {} (where the target's existing sockets are)", cgroup));
    for (auto [prog, bit] : candidates) {
      if (!(programs & bit)) continue;
      bpf_link* link = bpf_program__attach_cgroup(prog, fd.get());
      if (!link) return fail_errno(fmt::format("cannot attach {} to cgroup {}", bpf_program__name(prog), cgroup));
      links_.emplace_back(link);
    }
  }
  return found;
}

Result<void> ExistingSockets::apply(StepContext& context, netfault_bpf& skel, unsigned programs,
                                    const std::vector<std::string>& covered) {
  auto found = cover(context.processes, skel, programs, covered);
  if (!found) return found.error();
  context.detail["existing_sockets"] = found->listed;
  if (!found->described.empty()) context.detail["existing_socket_list"] = found->described;
  if (!found->cgroups.empty()) context.detail["existing_socket_cgroups"] = found->cgroups;
  if (found->unknown > 0)
    context.detail["existing_sockets_unreached"] =
        fmt::format("{} socket(s) whose cgroup could not be found are not affected", found->unknown);
  return {};
}

Result<void> ExistingSockets::extend(StepContext& context, const std::vector<ProcessInfo>& newcomers,
                                     netfault_bpf& skel, unsigned programs, const std::vector<std::string>& covered) {
  auto found = cover(newcomers, skel, programs, covered);
  if (!found) return found.error();
  context.detail["existing_sockets"] = context.detail.value("existing_sockets", size_t{0}) + found->listed;
  return {};
}

Result<void> ExistingSockets::revert() {
  std::vector<std::string> errors;
  for (auto& l : links_)
    if (auto r = l.destroy(); !r) errors.push_back(r.error().message);
  links_.clear();
  attached_.clear();
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

}  // namespace rebound
