#include "injectors/network/network_fault.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>

#include "system/targets.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

std::optional<netfault_cidr> parse_cidr(const std::string& text) {
  netfault_cidr c{};
  auto slash = text.find('/');
  std::string address = text.substr(0, slash);
  int max_prefix = 0;
  if (inet_pton(AF_INET, address.c_str(), c.addr) == 1) {
    c.family = 4;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), c.addr) == 1) {
    c.family = 6;
    max_prefix = 128;
  } else {
    return std::nullopt;
  }
  int prefix = max_prefix;
  if (slash != std::string::npos) {
    try {
      size_t used = 0;
      prefix = std::stoi(text.substr(slash + 1), &used);
      if (used != text.size() - slash - 1) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
  }
  if (prefix < 0 || prefix > max_prefix) return std::nullopt;
  c.prefix = static_cast<__u8>(prefix);
  return c;
}

int errno_from_name(const std::string& name) {
  if (name == "ECONNREFUSED") return ECONNREFUSED;
  if (name == "ETIMEDOUT") return ETIMEDOUT;
  if (name == "ENETUNREACH") return ENETUNREACH;
  if (name == "EHOSTUNREACH") return EHOSTUNREACH;
  if (name == "ECONNRESET") return ECONNRESET;
  if (name == "EACCES") return EACCES;
  if (name == "EPERM") return EPERM;
  return 0;
}

}  // namespace

std::optional<double> parse_size(const std::string& text, bool& bits) {
  size_t unit_at = 0;
  while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    ++unit_at;
  if (unit_at == 0) return std::nullopt;
  double number = std::stod(text.substr(0, unit_at));
  std::string unit = text.substr(unit_at);
  static const std::pair<const char*, double> bit_units[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}};
  static const std::pair<const char*, double> byte_units[] = {{"B", 1}, {"kB", 1e3}, {"KiB", 1024}, {"MB", 1e6},
                                                               {"MiB", 1048576}, {"GB", 1e9}};
  for (auto [name, factor] : bit_units)
    if (unit == name) {
      bits = true;
      return number * factor;
    }
  for (auto [name, factor] : byte_units)
    if (unit == name) {
      bits = false;
      return number * factor;
    }
  return std::nullopt;
}

std::optional<double> read_rate(TableReader& reader, const std::string& key) {
  auto text = reader.string(key, true);
  if (!text) return std::nullopt;
  bool bits = false;
  auto rate = parse_size(*text, bits);
  if (!rate || *rate <= 0) {
    reader.error(key, fmt::format("'{}' is not a rate: write a number and a unit such as \"10mbit\", \"512kbit\" or "
                                  "\"2MB\" (bit, kbit, mbit, gbit, B, kB, KiB, MB, MiB, GB per second)",
                                  *text));
    return std::nullopt;
  }
  return bits ? *rate / 8 : *rate;
}

namespace {

// DNS wire format of a dotted name, lower case, without the root label.
std::optional<std::vector<uint8_t>> dns_wire(const std::string& name) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return std::nullopt;
    out.push_back(static_cast<uint8_t>(label.size()));
    for (char c : label) out.push_back(static_cast<uint8_t>(std::tolower(static_cast<unsigned char>(c))));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (out.empty() || out.size() > NETFAULT_MAX_DNS_NAME) return std::nullopt;
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parsing

bool NetworkFault::parse_probability(TableReader& reader, bool required) {
  auto p = reader.number("probability", required);
  if (!p) {
    config_.probability = 0xffffffffu;
    return !required;
  }
  if (*p < 0 || *p > 1) {
    reader.error("probability", fmt::format("{} is not a probability: use a number from 0 to 1 (0.3 for 30%)", *p));
    return false;
  }
  config_.probability = *p >= 1 ? 0xffffffffu : static_cast<uint32_t>(*p * 4294967296.0);
  parameters_["probability"] = *p;
  return true;
}

bool NetworkFault::parse_common(TableReader& reader, const StepFactoryContext& context, const NetworkKeys& keys) {
  bool ok = true;
  if (auto iface = reader.string("interface")) interface_ = *iface;
  if (auto ns = reader.string("netns")) netns_ = *ns;
  if (context.target) target_ = *context.target;
  if (!netns_.empty() && interface_.empty()) {
    reader.error("netns", "netns goes with interface: name the interface inside that namespace");
    ok = false;
  }
  if (target_ && !interface_.empty()) {
    reader.error("interface", "give either target (the process tree's cgroup) or interface, not both");
    ok = false;
  } else if (!target_ && interface_.empty()) {
    reader.error("target", keys.interface_scope
                               ? "missing required key: a network fault acts on a target's cgroup (target = \"...\") "
                                 "or on an interface (interface = \"eth0\")"
                               : "missing required key: this fault acts on a target's cgroup; add target = \"...\"");
    ok = false;
  } else if (!interface_.empty() && !keys.interface_scope) {
    reader.error("interface", fmt::format("this fault cannot act on an interface ({}); use target = \"...\"",
                                          keys.cgroup_only_reason));
    ok = false;
  } else if (target_ && !keys.cgroup_scope) {
    reader.error("target", fmt::format("this fault cannot act on a cgroup ({}); use interface = \"...\"",
                                       keys.interface_only_reason));
    ok = false;
  }
  config_.directions = NETFAULT_DIR_INGRESS | NETFAULT_DIR_EGRESS;
  if (keys.direction) {
    if (auto dir = reader.string("direction")) {
      direction_ = *dir;
      if (*dir == "ingress") config_.directions = NETFAULT_DIR_INGRESS;
      else if (*dir == "egress") config_.directions = NETFAULT_DIR_EGRESS;
      else if (*dir != "both") {
        reader.error("direction", fmt::format("'{}' is not a direction: use \"ingress\", \"egress\" or \"both\"", *dir));
        ok = false;
      }
    }
  }
  if (auto peers = reader.strings("peers")) {
    if (peers->size() > NETFAULT_MAX_CIDRS) {
      reader.error("peers", fmt::format("at most {} peers per step", NETFAULT_MAX_CIDRS));
      ok = false;
    }
    for (const auto& p : *peers) {
      auto cidr = parse_cidr(p);
      if (!cidr) {
        reader.error("peers", fmt::format("'{}' is not an IP address or CIDR such as \"10.0.0.0/8\" or \"fd00::/64\"", p));
        ok = false;
      } else if (config_.n_cidrs < NETFAULT_MAX_CIDRS) {
        config_.cidrs[config_.n_cidrs++] = *cidr;
      }
    }
    peers_ = *peers;
  }
  if (auto ports = reader.integers("ports")) {
    if (ports->size() > NETFAULT_MAX_PORTS) {
      reader.error("ports", fmt::format("at most {} ports per step", NETFAULT_MAX_PORTS));
      ok = false;
    }
    for (auto port : *ports) {
      if (port < 1 || port > 65535) {
        reader.error("ports", fmt::format("{} is not a port (1-65535)", port));
        ok = false;
      } else if (config_.n_ports < NETFAULT_MAX_PORTS) {
        config_.ports[config_.n_ports++] = static_cast<__u16>(port);
      }
    }
    ports_ = *ports;
  }
  if (auto proto = reader.string("protocol")) {
    protocol_ = *proto;
    if (*proto == "tcp") config_.protocol = IPPROTO_TCP;
    else if (*proto == "udp") config_.protocol = IPPROTO_UDP;
    else if (*proto == "icmp") config_.protocol = IPPROTO_ICMP;
    else if (*proto != "any") {
      reader.error("protocol", fmt::format("'{}' is not a protocol: use \"tcp\", \"udp\", \"icmp\" or \"any\"", *proto));
      ok = false;
    }
  }
  if (keys.probability && !parse_probability(reader, keys.probability_required)) ok = false;
  if (!keys.probability) config_.probability = 0xffffffffu;
  return ok;
}

nlohmann::json NetworkFault::describe() const {
  nlohmann::json j = parameters_;
  if (!interface_.empty()) {
    j["scope"] = "interface";
    j["interface"] = interface_;
    if (!netns_.empty()) j["netns"] = netns_;
  } else {
    j["scope"] = "cgroup";
  }
  j["direction"] = direction_;
  j["protocol"] = protocol_;
  if (!peers_.empty()) j["peers"] = peers_;
  if (!ports_.empty()) j["ports"] = ports_;
  return j;
}

// ---------------------------------------------------------------------------------------------
// Applying and reverting

unsigned NetworkFault::programs() const {
  if (config_.action == NETFAULT_REFUSE) return kConnect4 | kConnect6;
  unsigned p = 0;
  bool in = config_.directions & NETFAULT_DIR_INGRESS, out = config_.directions & NETFAULT_DIR_EGRESS;
  if (!interface_.empty()) {
    if (in) p |= kTcIngress;
    if (out) p |= kTcEgress;
  } else {
    if (in) p |= kCgroupIngress;
    if (out) p |= kCgroupEgress;
  }
  return p;
}

Result<void> NetworkFault::preflight() {
  if (interface_.empty() && cgroup2_mount().empty()) {
    return fail("cgroup v2 is not mounted: a process tree cannot be scoped (mount cgroup2, or use interface = ...)");
  }
  if (!interface_.empty())
    if (auto r = InterfaceScope(interface_, netns_).preflight(programs()); !r) return r;
  // Loaded now, before the timeline: the verifier's time must not count against the step's start.
  return load_programs();
}

Result<void> NetworkFault::load_programs() {
  if (skel_) return {};
  auto skel = load_netfault(programs());
  if (!skel) return skel.error();
  skel_ = std::move(*skel);
  return {};
}

Result<void> NetworkFault::apply(StepContext& context) {
  if (auto loaded = load_programs(); !loaded) return loaded;
  skel_->bss->cfg = config_;
  configure(*skel_);
  auto applied = interface_.empty() ? apply_cgroup(context) : apply_interface(context);
  if (!applied) {
    revert(context);
    return applied;
  }
  return {};
}

Result<void> NetworkFault::apply_cgroup(StepContext& context) {
  std::vector<std::string> cgroups;
  if (target_->kind == TargetKind::cgroup) {
    cgroups.push_back(target_->value);  // descendants included: cgroup programs are inherited
  } else {
    // A process target: give its processes cgroups of their own for the fault, and move them back after.
    // Sockets keep the cgroup they were created in, so the fault reaches the connections opened from now on.
    std::string state_dir = context.recorder ? context.recorder->dir() : FaultRecorder::default_dir();
    auto scope = CgroupScope::enter(context.processes, state_dir,
                                    [&](const nlohmann::json& undo) { return context.record(undo); });
    if (!scope) return scope.error();
    cgroup_scope_ = std::move(*scope);
    cgroups = cgroup_scope_->cgroups();
  }
  for (const auto& path : cgroups)
    if (auto r = attach_to_cgroup(path); !r) return r;
  context.detail["cgroup"] = cgroups.front();
  if (cgroups.size() > 1) context.detail["cgroups"] = cgroups;
  return {};
}

Result<void> NetworkFault::attach_to_cgroup(const std::string& path) {
  Fd cgroup(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) return fail(fmt::format("cannot open cgroup {}: {}", path, std::strerror(errno)));
  const std::pair<bpf_program*, unsigned> candidates[] = {
      {skel_->progs.netfault_cgroup_ingress, kCgroupIngress},
      {skel_->progs.netfault_cgroup_egress, kCgroupEgress},
      {skel_->progs.netfault_connect4, kConnect4},
      {skel_->progs.netfault_connect6, kConnect6},
      {skel_->progs.netfault_steer4, kSteer4},
      {skel_->progs.netfault_steer6, kSteer6},
      {skel_->progs.netfault_steer_ops, kSteerOps},
  };
  for (auto [prog, bit] : candidates) {
    if (!(programs() & bit)) continue;
    bpf_link* link = bpf_program__attach_cgroup(prog, cgroup.get());
    if (!link)
      return fail(fmt::format("cannot attach {} to cgroup {}: {}", bpf_program__name(prog), path,
                              std::strerror(errno)));
    links_.emplace_back(link);
  }
  return {};
}

Result<void> NetworkFault::apply_interface(StepContext& context) {
  interface_scope_ = std::make_unique<InterfaceScope>(interface_, netns_);
  return interface_scope_->apply(context, *skel_, programs());
}

Result<void> NetworkFault::revert(StepContext& context) {
  std::vector<std::string> errors;
  if (interface_scope_) {
    if (auto r = interface_scope_->revert(); !r) errors.push_back(r.error().message);
    interface_scope_.reset();
  }
  for (auto& l : links_)
    if (auto r = l.destroy(); !r) errors.push_back(r.error().message);
  links_.clear();
  if (cgroup_scope_) {  // after the links: the processes leave with the programs already gone
    if (auto r = cgroup_scope_->leave(); !r) errors.push_back(r.error().message);
    cgroup_scope_.reset();
  }
  if (skel_) {
    const auto& s = skel_->bss->stats;
    context.detail[counted_ + "_seen"] = s.seen;
    context.detail[counted_ + "_matched"] = s.matched;
    context.detail[counted_ + "_affected"] = s.affected;
    if (programs() & (kTcIngress | kTcEgress | kCgroupIngress | kCgroupEgress))  // packets, not connects
      context.detail[counted_ + "_unparsed"] = s.unparsed;
    skel_.reset();
  }
  if (!errors.empty()) return fail(fmt::format("{}", fmt::join(errors, "; ")));
  return {};
}

NetworkFault::~NetworkFault() {
  interface_scope_.reset();
}

Result<std::string> NetworkFault::recover(const nlohmann::json& undo) {
  if (undo.value("scope", "") == "cgroup") return CgroupScope::recover(undo);
  return InterfaceScope::recover(undo);
}

// ---------------------------------------------------------------------------------------------
// The fault types

namespace {
const ParamDoc kTargetDoc{"target", "string", "or interface", "a [[targets]] entry: the fault applies to its cgroup"};
const ParamDoc kTargetOnlyDoc{"target", "string", "", "a [[targets]] entry: the fault applies to its cgroup"};
const ParamDoc kInterfaceDoc{"interface", "string", "or target", "an interface (tc filter), e.g. \"eth0\""};
const ParamDoc kInterfaceOnlyDoc{"interface", "string", "", "an interface (tc filter), e.g. \"eth0\""};
const ParamDoc kNetnsDoc{"netns", "string", "rebound's", "with interface: the named network namespace it is in"};
const ParamDoc kDirectionDoc{"direction", "string", "\"both\"", "\"ingress\", \"egress\" or \"both\""};
const ParamDoc kPeersDoc{"peers", "string array", "any", "peer addresses or CIDRs (IPv4 or IPv6)"};
const ParamDoc kPortsDoc{"ports", "integer array", "any", "peer ports"};
const ParamDoc kProtocolDoc{"protocol", "string", "\"any\"", "\"tcp\", \"udp\", \"icmp\" or \"any\""};

}  // namespace

std::vector<ParamDoc> NetworkLoss::params() {
  return {kTargetDoc, kInterfaceDoc, kNetnsDoc, {"probability", "ratio", "", "share of matching packets dropped"},
          kDirectionDoc, kPeersDoc, kPortsDoc, kProtocolDoc};
}
std::unique_ptr<StepAction> NetworkLoss::parse(TableReader& reader, const StepFactoryContext& context) {
  return start<NetworkLoss>(reader, context, {}, NETFAULT_DROP);
}

std::vector<ParamDoc> NetworkPartition::params() {
  return {kTargetDoc, kInterfaceDoc, kNetnsDoc, {"peers", "string array", "", "peer addresses or CIDRs cut off"},
          kPortsDoc, kProtocolDoc};
}
std::unique_ptr<StepAction> NetworkPartition::parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.direction = false;
  keys.probability = false;
  auto fault = start<NetworkPartition>(reader, context, keys, NETFAULT_DROP);
  if (fault && fault->config_.n_cidrs == 0) {
    reader.error("peers", "missing required key: a partition needs the peers it cuts off, e.g. peers = [\"10.0.0.0/8\"]");
    return nullptr;
  }
  return fault;
}

std::vector<ParamDoc> NetworkCorrupt::params() {
  return {kInterfaceOnlyDoc, kNetnsDoc, {"probability", "ratio", "", "share of matching TCP/UDP packets damaged"},
          kDirectionDoc, kPeersDoc, kPortsDoc, kProtocolDoc};
}
std::unique_ptr<StepAction> NetworkCorrupt::parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.cgroup_scope = false;
  keys.interface_only_reason = "cgroup_skb programs cannot change packets";
  return start<NetworkCorrupt>(reader, context, keys, NETFAULT_CORRUPT);
}

std::vector<ParamDoc> NetworkDuplicate::params() {
  return {kInterfaceOnlyDoc, kNetnsDoc, {"probability", "ratio", "", "share of matching packets sent twice"},
          kDirectionDoc, kPeersDoc, kPortsDoc, kProtocolDoc};
}
std::unique_ptr<StepAction> NetworkDuplicate::parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.cgroup_scope = false;
  keys.interface_only_reason = "cgroup_skb programs cannot clone packets";
  return start<NetworkDuplicate>(reader, context, keys, NETFAULT_DUPLICATE);
}

std::vector<ParamDoc> NetworkBandwidth::params() {
  return {kTargetDoc,
          kInterfaceDoc,
          kNetnsDoc,
          {"rate", "string", "", "\"10mbit\", \"512kbit\", \"2MB\" (per second; tc units)"},
          {"burst", "string", "max(rate x 50ms, 256KiB)", "bucket size, e.g. \"512kB\""},
          kDirectionDoc,
          kPeersDoc,
          kPortsDoc,
          kProtocolDoc};
}
std::unique_ptr<StepAction> NetworkBandwidth::parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.probability = false;
  auto fault = start<NetworkBandwidth>(reader, context, keys, NETFAULT_POLICE);
  auto rate = read_rate(reader, "rate");
  auto burst_text = reader.string("burst");
  if (!fault || !rate) return nullptr;
  double bytes_per_sec = *rate;
  // A GSO packet is up to 64 KiB: a smaller bucket starves TCP. 256 KiB measured well from 1 to 100 mbit.
  double burst = std::max(bytes_per_sec * 0.05, 262144.0);
  if (burst_text) {
    bool burst_bits = false;
    auto b = parse_size(*burst_text, burst_bits);
    if (!b || *b <= 0) {
      reader.error("burst", fmt::format("'{}' is not a size such as \"128kB\"", *burst_text));
      return nullptr;
    }
    burst = burst_bits ? *b / 8 : *b;
  }
  if (bytes_per_sec > static_cast<double>(NETFAULT_MAX_RATE)) {
    reader.error("rate", "above the limit of 100gbit (12.5GB per second) that the token bucket can count");
    return nullptr;
  }
  if (burst > static_cast<double>(NETFAULT_MAX_BURST)) {
    reader.error("burst", "above the limit of 1GiB that the token bucket can count");
    return nullptr;
  }
  fault->config_.rate_bytes_per_sec = std::max<uint64_t>(static_cast<uint64_t>(bytes_per_sec), 1);
  fault->config_.burst_bytes = static_cast<uint64_t>(burst);
  // From a full debt to a full bucket: any longer idle time adds nothing, and the product stays small.
  fault->config_.fill_ns = 2 * fault->config_.burst_bytes * 1'000'000'000ull / fault->config_.rate_bytes_per_sec + 1;
  fault->parameters_["rate_bytes_per_sec"] = fault->config_.rate_bytes_per_sec;
  fault->parameters_["burst_bytes"] = fault->config_.burst_bytes;
  fault->parameters_["mechanism"] = "token-bucket policer in BPF: packets over the rate are dropped";
  return fault;
}

std::vector<ParamDoc> NetworkRefuse::params() {
  return {kTargetOnlyDoc,
          {"errno", "string", "\"ECONNREFUSED\"", "ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, EACCES, EPERM"},
          {"probability", "ratio", "1.0", "share of matching connects refused"},
          kPeersDoc,
          kPortsDoc,
          kProtocolDoc};
}
std::unique_ptr<StepAction> NetworkRefuse::parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.direction = false;
  keys.probability_required = false;
  keys.interface_scope = false;
  keys.cgroup_only_reason = "connect() hooks attach to cgroups";
  auto fault = start<NetworkRefuse>(reader, context, keys, NETFAULT_REFUSE);
  std::string name = reader.string("errno").value_or("ECONNREFUSED");
  if (!fault) return nullptr;
  fault->config_.refuse_errno = errno_from_name(name);
  if (fault->config_.refuse_errno == 0) {
    reader.error("errno", fmt::format("'{}' is not an errno rebound can return from connect(): use ECONNREFUSED, "
                                      "ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, EACCES or EPERM",
                                      name));
    return nullptr;
  }
  fault->parameters_["errno"] = name;
  return fault;
}

std::vector<ParamDoc> DnsFail::params() {
  return {kTargetDoc,
          kInterfaceDoc,
          kNetnsDoc,
          {"domain", "string", "", "\"example.com\" (exactly) or \"*.example.com\" (it and every name below it)"},
          {"answer", "string", "\"nxdomain\"", "\"nxdomain\", \"servfail\" or \"timeout\" (no answer)"},
          {"probability", "ratio", "1.0", "share of matching queries failed"},
          kPeersDoc};
}
std::unique_ptr<StepAction> DnsFail::parse(TableReader& reader, const StepFactoryContext& context) {
  NetworkKeys keys;
  keys.direction = false;
  keys.probability_required = false;
  auto fault = start<DnsFail>(reader, context, keys, NETFAULT_DNS);
  auto name = reader.string("domain", true);
  std::string answer = reader.string("answer").value_or("nxdomain");
  if (!fault || !name) return nullptr;
  fault->config_.directions = NETFAULT_DIR_EGRESS;
  fault->config_.protocol = IPPROTO_UDP;
  std::string pattern = *name;
  if (pattern.starts_with("*.")) {
    fault->config_.dns_suffix = 1;
    pattern = pattern.substr(2);
  }
  while (!pattern.empty() && pattern.back() == '.') pattern.pop_back();
  auto wire = dns_wire(pattern);
  if (!wire) {
    reader.error("domain", fmt::format("'{}' is not a DNS name such as \"api.example.com\" or \"*.example.com\"", *name));
    return nullptr;
  }
  fault->config_.dns_name_len = static_cast<__u32>(wire->size());
  std::memcpy(fault->config_.dns_name, wire->data(), wire->size());
  if (answer == "nxdomain") fault->config_.dns_rcode = 3;
  else if (answer == "servfail") fault->config_.dns_rcode = 2;
  else if (answer == "timeout") fault->config_.dns_rcode = 0;
  else {
    reader.error("answer", fmt::format("'{}' is not an answer: use \"nxdomain\", \"servfail\" or \"timeout\"", answer));
    return nullptr;
  }
  if (fault->config_.dns_rcode != 0 && !fault->interface_.empty()) {
    // fine: tc can rewrite the query into an answer
  } else if (fault->config_.dns_rcode != 0) {
    reader.error("answer", "a cgroup-scoped dns.fail can only drop queries (answer = \"timeout\"): cgroup_skb programs "
                           "cannot write an answer; use interface = \"...\" for nxdomain or servfail");
    return nullptr;
  }
  fault->parameters_["domain"] = *name;
  fault->parameters_["answer"] = answer;
  return fault;
}

// ---------------------------------------------------------------------------------------------
// What this host can do

namespace {

// Loads the programs and, for tc, adds clsact in a private network namespace that vanishes after.
Result<void> probe_host(unsigned programs, bool needs_cgroup, bool needs_tc) {
  if (geteuid() != 0) return fail("needs root (CAP_BPF, CAP_NET_ADMIN and write access to cgroups)");
  if (needs_cgroup && cgroup2_mount().empty()) return fail("cgroup v2 is not mounted");
  auto skel = load_netfault(programs);
  if (!skel) return skel.error();
  if (needs_tc) {
    Result<void> tc_result;
    std::thread probe([&] {
      if (unshare(CLONE_NEWNET) != 0) {
        tc_result = fail(fmt::format("cannot make a scratch network namespace: {}", std::strerror(errno)));
        return;
      }
      bpf_tc_hook hook{};
      hook.sz = sizeof hook;
      hook.ifindex = 1;  // lo of the scratch namespace
      hook.attach_point = BPF_TC_INGRESS;
      int rc = bpf_tc_hook_create(&hook);
      if (rc != 0 && rc != -EEXIST)
        tc_result = fail(fmt::format("the clsact qdisc is not available: {}", std::strerror(-rc)));
    });
    probe.join();
    if (!tc_result) return tc_result;
  }
  return {};
}

}  // namespace

Result<void> network_fault_available(const std::string& type) {
  static std::mutex mutex;
  static std::map<std::string, Result<void>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(type); it != cache.end()) return it->second;
  Result<void> r;
  if (type == "network.refuse") r = probe_host(kConnect4 | kConnect6, true, false);
  else if (type == "network.delay" || type == "tcp.toxic") r = probe_host(kSteer4 | kSteer6 | kSteerOps, true, false);
  else if (type == "network.corrupt" || type == "network.duplicate") r = probe_host(kTcIngress | kTcEgress, false, true);
  else r = probe_host(kTcIngress | kTcEgress | kCgroupIngress | kCgroupEgress, true, true);
  cache.emplace(type, r);
  return r;
}

}  // namespace rebound
