#include "injectors/registry.hpp"

#include <csignal>
#include <cctype>
#include <fmt/format.h>

#include "injectors/command_step.hpp"
#include "injectors/host/cpu_stress.hpp"
#include "injectors/host/disk_fill.hpp"
#include "injectors/host/file_fault.hpp"
#include "injectors/host/io_stress.hpp"
#include "injectors/host/memory_stress.hpp"
#include "injectors/network/http_fault.hpp"
#include "injectors/network/network_fault.hpp"
#include "injectors/network/proxy_fault.hpp"
#include "injectors/process_kill.hpp"
#include "injectors/process_stop.hpp"
#include "injectors/wait_step.hpp"

namespace rebound {

namespace network_faults {  // injectors/network/faults/<name>.cpp
NetworkFaultType loss();
NetworkFaultType corrupt();
NetworkFaultType duplicate();
NetworkFaultType partition();
NetworkFaultType refuse();
NetworkFaultType bandwidth();
NetworkFaultType dns_fail();
}  // namespace network_faults

namespace {
// Network faults: lasting, on a target's cgroup or an interface, undone by NetworkFault::recover. `programs`
// (bits of NetfaultProgram) is what the type may load and attach: whether this host can is its availability.
StepType network(std::string name, std::string summary, unsigned programs, NetworkFaultType type) {
  return {std::move(name), std::move(summary), StepKind::lasting_fault, DurationRule::required, TargetRule::optional,
          std::move(type.params), type.parse, NetworkFault::recover,
          [programs] { return netfault_available(programs); }};
}
}  // namespace

const std::vector<StepType>& step_registry() {
  using namespace network_faults;
  static const std::vector<StepType> table = {
      {"process.kill", "Sends a signal (SIGKILL by default) to the target's processes", StepKind::instant_fault,
       DurationRule::forbidden, TargetRule::required, ProcessKill::params(), ProcessKill::parse, nullptr},
      {"process.stop", "Freezes the target's processes with SIGSTOP for the duration, then sends SIGCONT",
       StepKind::lasting_fault, DurationRule::required, TargetRule::required, ProcessStop::params(), ProcessStop::parse,
       ProcessStop::recover},
      {"command", "Runs a program (e.g. to trigger a failover); fails the step on an unexpected exit code",
       StepKind::action, DurationRule::forbidden, TargetRule::forbidden, CommandStep::params(), CommandStep::parse, nullptr},
      {"change",
       "Runs a program that changes the system in a way users must not notice (a blue-green switch, a reload, a "
       "deploy); what the probes see from its start to its end is judged by the SLO like a fault's impact",
       StepKind::change, DurationRule::forbidden, TargetRule::forbidden, CommandStep::params(), CommandStep::parse,
       nullptr},
      {"wait", "Does nothing for the duration (keeps the method going)", StepKind::action, DurationRule::required,
       TargetRule::forbidden, {}, WaitStep::parse, nullptr},
      network("network.loss", "Drops packets with a probability", kPacketPrograms, loss()),
      network("network.corrupt", "Damages a 16-bit word of the payload of TCP/UDP packets (checksum kept valid, so "
              "the receiving application reads damaged bytes)", kTcPrograms, corrupt()),
      network("network.duplicate", "Sends packets twice", kTcPrograms, duplicate()),
      network("network.partition", "Drops all traffic between the target and the listed peers, both directions",
              kPacketPrograms, partition()),
      network("network.refuse", "connect() to matching destinations fails at once with an errno", kConnectPrograms,
              refuse()),
      network("network.bandwidth", "Limits throughput to a rate (token-bucket policer in BPF)", kPacketPrograms,
              bandwidth()),
      network("network.delay", "Adds latency (and jitter) to the target's TCP connections, through rebound's proxy",
              kSteerPrograms, {ProxyFault::delay_params(), ProxyFault::parse_delay}),
      network("tcp.toxic", ProxyFault::toxic_summary(), kSteerPrograms,
              {ProxyFault::toxic_params(), ProxyFault::parse_toxics}),
      network("http.fault", "Aborts (with a status), resets, delays or replaces the target's HTTP/1.x requests and "
              "responses that match rules, through rebound's HTTP proxy", kSteerPrograms,
              {HttpFault::params(), HttpFault::parse}),
      {"cpu.stress", "Runs stress-ng CPU workers where the target lives: in its cgroup when the CPU controller is on "
       "there (eating its quota), else pinned to its CPUs",
       StepKind::lasting_fault, DurationRule::required, TargetRule::required, CpuStress::params(), CpuStress::parse,
       CpuStress::recover, StressNg::available},
      {"memory.stress", "Runs stress-ng VM workers that hold memory where the target lives: charged to its memory "
       "cgroup when it has one, so that its own limit gets tight",
       StepKind::lasting_fault, DurationRule::required, TargetRule::required, MemoryStress::params(),
       MemoryStress::parse, MemoryStress::recover, StressNg::available},
      {"io.stress", "Runs stress-ng hdd workers that write and read files on the file system that holds a folder",
       StepKind::lasting_fault, DurationRule::required, TargetRule::forbidden, IoStress::params(), IoStress::parse,
       IoStress::recover, StressNg::available},
      {"disk.fill", "Fills the file system that holds a folder until only `free` is left (or it is `used` full); "
       "the fill file is removed at the end",
       StepKind::lasting_fault, DurationRule::required, TargetRule::forbidden, DiskFill::params(), DiskFill::parse,
       DiskFill::recover},
      {"file.error", "File operations of the target's processes on files under a folder fail with an errno "
       "(FUSE passthrough; other processes untouched)",
       StepKind::lasting_fault, DurationRule::required, TargetRule::required, FileFault::error_params(),
       FileFault::parse_error, FileFault::recover, FileFault::available},
      {"file.delay", "File operations of the target's processes on files under a folder wait before they are done "
       "(FUSE passthrough; other processes untouched)",
       StepKind::lasting_fault, DurationRule::required, TargetRule::required, FileFault::delay_params(),
       FileFault::parse_delay, FileFault::recover, FileFault::available},
      network("dns.fail", "DNS queries for matching names get NXDOMAIN, SERVFAIL or no answer", kPacketPrograms,
              dns_fail()),
  };
  return table;
}

const StepType* find_step_type(const std::string& name) {
  for (const auto& t : step_registry())
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> step_type_names() {
  std::vector<std::string> names;
  for (const auto& t : step_registry()) names.push_back(t.name);
  return names;
}

bool is_fault(const StepType& type) { return type.kind != StepKind::action; }

namespace {
struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ABRT", SIGABRT}, {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
};
}  // namespace

bool parse_process_count(TableReader& reader, std::optional<int64_t>& count) {
  const toml::node* n = reader.node("count");
  if (!n) return true;
  if (n->is_string() && *n->value<std::string>() == "all") {
    count.reset();
  } else if (n->is_integer() && *n->value<int64_t>() >= 1) {
    count = *n->value<int64_t>();
  } else {
    reader.error("count", fmt::format("expected a positive integer or \"all\", got {}", describe_node(*n)));
    return false;
  }
  return true;
}

ParamDoc process_count_doc() {
  return {"count", "integer or \"all\"", "\"all\"", "how many of the matched processes (lowest pids first)"};
}

std::vector<ProcessInfo> first_processes(const std::vector<ProcessInfo>& processes, const std::optional<int64_t>& count) {
  size_t n = count ? std::min(static_cast<size_t>(*count), processes.size()) : processes.size();
  return {processes.begin(), processes.begin() + static_cast<std::ptrdiff_t>(n)};
}

std::optional<int> parse_signal(const toml::node& node) {
  if (node.is_integer()) {
    auto n = *node.value<int64_t>();
    if (n >= 1 && n <= 64) return static_cast<int>(n);
    return std::nullopt;
  }
  if (!node.is_string()) return std::nullopt;
  std::string name = *node.value<std::string>();
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.starts_with("SIG")) name = name.substr(3);
  for (const auto& s : kSignals)
    if (name == s.name) return s.number;
  return std::nullopt;
}

std::string signal_name(int signal) {
  for (const auto& s : kSignals)
    if (s.number == signal) return std::string("SIG") + s.name;
  return fmt::format("signal {}", signal);
}

}  // namespace rebound
