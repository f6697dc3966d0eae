// rebound doctor: which fault types this host can inject, and why not.
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/commands.hpp"
#include "injectors/network/bpf_handles.hpp"
#include "injectors/registry.hpp"

namespace fs = std::filesystem;

namespace rebound {
namespace {

// Whether a qdisc is built in, loaded, or installed as a module for the running kernel.
bool kernel_has_qdisc(const std::string& name) {
  utsname u{};
  uname(&u);
  std::string module = "sch_" + name;
  if (fs::exists("/sys/module/" + module)) return true;
  std::string dir = std::string("/lib/modules/") + u.release;
  std::ifstream builtin(dir + "/modules.builtin");
  for (std::string line; std::getline(builtin, line);)
    if (line.ends_with("/" + module + ".ko")) return true;
  std::ifstream modules(dir + "/modules.dep");
  for (std::string line; std::getline(modules, line);)
    if (line.find("/" + module + ".ko") != std::string::npos && line.find("/" + module + ".ko") < line.find(':'))
      return true;
  return false;
}

// The network backends rebound uses, and whether this kernel could carry the ones it does not have yet.
void print_network_backends() {
  std::cout << "network backends:\n"
               "  packet faults                tc clsact and cgroup_skb programs (BPF; no netem, no iptables needed)\n"
               "  network.delay, tcp.toxic     rebound's proxy, fed by connect() hooks on the target's cgroup (BPF)\n";
  for (auto [qdisc, use] : {std::pair{"netem", "netem delay on an interface"}, std::pair{"fq", "EDT delay (skb->tstamp)"}})
    std::cout << fmt::format("  {:<28} {}\n", use,
                             kernel_has_qdisc(qdisc) ? fmt::format("sch_{} is on this kernel; rebound does not use it yet", qdisc)
                                                     : fmt::format("sch_{} is not on this kernel", qdisc));
}

int cmd_doctor() {
  utsname u{};
  uname(&u);
  std::cout << fmt::format("kernel {} {} ({}), running as uid {}\n", u.sysname, u.release, u.machine, geteuid());
  std::cout << fmt::format("cgroup v2: {}\n", cgroup2_mount().empty() ? "not mounted" : "mounted at " + cgroup2_mount());
  int missing = 0;
  for (const auto& t : step_registry()) {
    Result<void> ok;
    if (t.available) ok = t.available();
    if (ok) {
      std::cout << fmt::format("  available    {}\n", t.name);
    } else {
      ++missing;
      std::cout << fmt::format("  unavailable  {:<18} {}\n", t.name, ok.error().message);
    }
  }
  print_network_backends();
  return missing ? 1 : 0;
}

}  // namespace

Command add_doctor_command(CLI::App& app) {
  return {app.add_subcommand("doctor", "Tell which fault types this host can inject, and why not"), cmd_doctor};
}

}  // namespace rebound
