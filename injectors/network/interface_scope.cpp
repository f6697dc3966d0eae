#include "injectors/network/interface_scope.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "injectors/network/shared_objects.hpp"

namespace rebound {

namespace {

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

const char* hook_name(bool egress) { return egress ? "egress" : "ingress"; }

// Bytes before the IP header in what tc sees on a device of this link type; nullopt: rebound cannot read it.
std::optional<unsigned> l2_len_of(unsigned short arphrd) {
  switch (arphrd) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK: return 14;
    case ARPHRD_NONE:  // tun, WireGuard
    case ARPHRD_RAWIP:
    case ARPHRD_PPP:
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
    case ARPHRD_SIT:
    case ARPHRD_IPGRE: return 0;
    default: return std::nullopt;
  }
}

std::string object_key(const std::string& netns, int ifindex) {
  std::string ns = netns.empty() ? "-" : netns;
  for (char& c : ns)
    if (c == '/') c = '_';
  return fmt::format("clsact-{}-{}", ns, ifindex);
}

// Lets go of one use of an interface's clsact qdisc: the last user (live rebounds count; a dead one's record
// is dropped, its filter keeps the qdisc until `recover` removes it) removes it if rebound added it and no
// filter is left on it. Hold no lock.
Result<std::string> release_shared_clsact(const std::string& shared_dir, const std::string& netns,
                                          const std::string& interface, int ifindex, const std::string& own_record) {
  auto lock = SharedLock::take(shared_dir);
  if (!lock) return lock.error();
  SharedObject clsact(shared_dir, object_key(netns, ifindex));
  if (!own_record.empty())
    if (auto r = clsact.remove_user(own_record); !r) return r.error();
  clsact.drop_dead_users();
  if (!clsact.created()) return std::string("left the clsact qdisc alone (rebound did not add it)");
  if (size_t users = clsact.live_users(); users > 0)
    return fmt::format("left the clsact qdisc rebound added: {} running step(s) still use it", users);
  auto removed = remove_clsact_if_empty(netns, interface, ifindex);
  if (!removed) return removed.error();
  if (!*removed) return std::string("left the clsact qdisc rebound added: filters of others are still on it");
  if (auto r = clsact.clear_created(); !r) return r.error();
  return std::string("removed the clsact qdisc rebound had added");
}

}  // namespace

InterfaceScope::~InterfaceScope() {
  if (auto r = revert(); !r) spdlog::error("{}", r.error().message);
}

Result<void> InterfaceScope::preflight(unsigned programs) const {
  // The interface may not exist yet (setup steps can create it): that is checked when the step starts.
  {
    auto ns = NetnsGuard::enter(netns_);
    if (!ns || if_nametoindex(interface_.c_str()) == 0) return {};
  }
  for (bool egress : {false, true}) {
    if (!(programs & (egress ? kTcEgress : kTcIngress))) continue;
    auto used = tc_priorities_in_use(netns_, interface_, egress);
    if (!used) return {};  // no tc to ask: the attach will say
    size_t taken = 0;
    for (unsigned p : *used) taken += p >= kTcFirstPriority && p < kTcFirstPriority + kTcPriorities;
    if (taken == kTcPriorities)
      return fail(fmt::format("every tc {} filter priority rebound uses on {} ({:#x} to {:#x}) is held by another "
                              "filter; free one with `tc filter del dev {} {} pref N`",
                              hook_name(egress), interface_, kTcFirstPriority, kTcFirstPriority + kTcPriorities - 1,
                              interface_, hook_name(egress)));
    if (taken > 0)
      spdlog::info("interface {}: {} of rebound's tc {} priorities are held by other filters; rebound takes the next "
                   "free one",
                   interface_, taken, hook_name(egress));
  }
  return {};
}

Result<void> InterfaceScope::resolve(netfault_bpf& skel) {
  auto ns = NetnsGuard::enter(netns_);
  if (!ns) return ns.error();
  ifindex_ = static_cast<int>(if_nametoindex(interface_.c_str()));
  if (ifindex_ == 0) return fail(fmt::format("no interface named '{}'", interface_));
  // Where the IP header starts depends on the link layer: read it from the device (in its namespace).
  Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, interface_.c_str(), IFNAMSIZ - 1);
  if (!sock || ioctl(sock.get(), SIOCGIFHWADDR, &ifr) != 0)
    return fail_errno(fmt::format("cannot read the link type of '{}'", interface_));
  auto l2 = l2_len_of(ifr.ifr_hwaddr.sa_family);
  if (!l2)
    return fail(fmt::format("interface '{}' has link type {}, whose packets rebound cannot read: use an Ethernet, "
                            "loopback or raw-IP (tun, WireGuard, GRE, PPP) interface",
                            interface_, ifr.ifr_hwaddr.sa_family));
  skel.bss->cfg.l2_len = *l2;
  return {};
}

nlohmann::json InterfaceScope::record(const std::vector<std::pair<bool, ProgIdentity>>& progs) const {
  nlohmann::json filters = nlohmann::json::array();
  for (const auto& [egress, prog] : progs) {
    nlohmann::json f{{"hook", hook_name(egress)}, {"handle", 1}, {"prog_id", prog.id}, {"prog_tag", prog.tag}};
    for (const auto& attached : filters_)
      if (attached.id().egress == egress) f["priority"] = attached.id().priority;
    filters.push_back(f);
  }
  return {{"scope", "interface"},  {"netns", netns_},       {"interface", interface_},
          {"ifindex", ifindex_},   {"filters", filters},    {"first_priority", kTcFirstPriority},
          {"priorities", kTcPriorities}, {"shared_dir", shared_dir_}};
}

void InterfaceScope::start_lease(netfault_bpf& skel) {
  // The programs check a deadline that only a live rebound keeps pushing forward: a filter left behind by
  // a dead rebound stops acting within kTcLeaseMs, and `rebound recover` removes it.
  netfault_bpf* programs = &skel;
  auto renew = [programs] {
    programs->bss->deadline_ns = monotonic_ns() + static_cast<uint64_t>(kTcLeaseMs) * 1'000'000;
  };
  renew();
  keeper_stop_ = false;  // a step object is applied again on every trial of a suite's repeat or schedule
  keeper_ = std::thread([this, renew] {
    std::unique_lock lock(keeper_mutex_);
    while (!keeper_wake_.wait_for(lock, std::chrono::milliseconds(kTcLeaseRenewMs), [this] { return keeper_stop_; }))
      renew();
  });
}

void InterfaceScope::stop_lease() {
  {
    std::lock_guard lock(keeper_mutex_);
    keeper_stop_ = true;
  }
  keeper_wake_.notify_all();
  if (keeper_.joinable()) keeper_.join();
}

Result<void> InterfaceScope::acquire_clsact(const std::string& state_dir) {
  if (state_dir.empty()) {  // no state folder: nothing to share through; remove at revert what this step added
    auto added = add_clsact(netns_, ifindex_);
    if (!added) return added.error();
    created_clsact_ = *added;
    holds_clsact_ = true;
    return {};
  }
  shared_dir_ = state_dir + "/shared";
  auto lock = SharedLock::take(shared_dir_);
  if (!lock) return lock.error();
  SharedObject clsact(shared_dir_, object_key(netns_, ifindex_));
  // Intent first: a rebound killed between any two of these lines leaves records that say what to undo.
  auto user = clsact.add_user({{"interface", interface_}, {"netns", netns_}, {"ifindex", ifindex_}});
  if (!user) return user.error();
  user_record_ = *user;
  holds_clsact_ = true;
  bool marked = clsact.created();
  if (!marked)
    if (auto r = clsact.mark_created({{"interface", interface_}, {"netns", netns_}}); !r) return r;
  auto added = add_clsact(netns_, ifindex_);
  if (!added) return added.error();
  created_clsact_ = *added;
  // It was there before, and not by rebound's doing: it is not rebound's to remove.
  if (!marked && !*added)
    if (auto r = clsact.clear_created(); !r) return r;
  return {};
}

Result<void> InterfaceScope::apply(StepContext& context, netfault_bpf& skel, unsigned programs) {
  if (auto r = resolve(skel); !r) return r;
  std::vector<std::pair<bool, ProgIdentity>> progs;
  for (bool egress : {false, true}) {
    if (!(programs & (egress ? kTcEgress : kTcIngress))) continue;
    auto prog = prog_identity(bpf_program__fd(egress ? skel.progs.netfault_tc_egress : skel.progs.netfault_tc_ingress));
    if (!prog) return prog.error();
    progs.emplace_back(egress, *prog);
  }
  start_lease(skel);
  std::string state_dir = context.recorder ? context.recorder->dir() : "";
  if (!state_dir.empty()) shared_dir_ = state_dir + "/shared";
  // Recorded before anything is added: the programs' ids tell rebound's filters from anyone else's.
  if (auto r = context.record(record(progs)); !r) return r;
  if (auto r = acquire_clsact(state_dir); !r) return r;
  for (const auto& [egress, prog] : progs) {
    bpf_program* p = egress ? skel.progs.netfault_tc_egress : skel.progs.netfault_tc_ingress;
    auto filter = TcFilter::attach(netns_, ifindex_, egress, bpf_program__fd(p), kTcFirstPriority, kTcPriorities);
    if (!filter) return filter.error();
    filters_.push_back(std::move(*filter));
  }
  // Re-recorded with the priorities taken, so that `rebound recover` looks only there.
  std::string old = context.record_path;
  if (auto r = context.record(record(progs)); !r) return r;
  // The new record is written; an old one that cannot be removed is only a stale copy for `rebound recover`.
  if (context.recorder) (void)context.recorder->clear(old);
  context.detail["interface"] = interface_;
  context.detail["created_clsact"] = created_clsact_;
  return {};
}

Result<void> InterfaceScope::revert() {
  std::vector<std::string> errors;
  for (auto& f : filters_)
    if (auto r = f.detach(); !r) errors.push_back(r.error().message);
  filters_.clear();
  stop_lease();
  if (holds_clsact_) {
    holds_clsact_ = false;
    if (shared_dir_.empty()) {
      if (created_clsact_)
        if (auto r = remove_clsact_if_empty(netns_, interface_, ifindex_); !r) errors.push_back(r.error().message);
    } else if (auto r = release_shared_clsact(shared_dir_, netns_, interface_, ifindex_, user_record_); !r) {
      errors.push_back(r.error().message);
    }
    user_record_.clear();
  }
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

Result<std::string> InterfaceScope::recover(const nlohmann::json& undo) {
  QuietLibbpf quiet;  // each miss is said once below, in rebound's words
  std::vector<std::string> done, errors;
  std::string netns = undo.value("netns", "");
  int ifindex = undo.value("ifindex", 0);
  unsigned first = undo.value("first_priority", kTcFirstPriority);
  unsigned count = std::min(undo.value("priorities", kTcPriorities), kTcPriorities);
  if (!undo.contains("filters"))
    return fail("this record was written by an older rebound that did not note its programs' ids: find its filters "
                "with `tc filter show` and remove them by hand");
  for (const auto& f : undo["filters"]) {
    TcFilterId id{ifindex, f.value("hook", "") == "egress", f.value("handle", 1u), 0, f.value("prog_id", 0u)};
    if (id.prog_id == 0) continue;
    if (f.contains("priority")) {
      id.priority = f["priority"].get<unsigned>();
    } else if (auto found = find_filter(netns, id, first, count)) {
      id.priority = *found;  // rebound died between attaching and noting where
    } else {
      done.push_back(fmt::format("no tc {} filter of rebound's left on interface {}", hook_name(id.egress), ifindex));
      continue;
    }
    auto r = detach_recorded_filter(netns, id);
    if (!r) errors.push_back(r.error().message);
    else done.push_back(*r);
  }
  if (std::string shared = undo.value("shared_dir", ""); !shared.empty()) {
    auto r = release_shared_clsact(shared, netns, undo.value("interface", ""), ifindex, "");
    if (!r) errors.push_back(r.error().message);
    else done.push_back(*r);
  }
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return fmt::format("{}", fmt::join(done, "; "));
}

}  // namespace rebound
