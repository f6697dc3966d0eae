#include "cli/systemd.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <unistd.h>

#include "cli/common.hpp"
#include "gameday/schedule.hpp"

namespace fs = std::filesystem;

namespace rebound {

namespace {

// True for a binary in a CMake build folder: a unit naming it breaks with the next clean or rebuild.
bool in_build_tree(const fs::path& binary) {
  std::error_code ec;
  for (fs::path dir = binary.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
    if (fs::exists(dir / "CMakeCache.txt", ec)) return true;
  return false;
}

// The rebound a unit should run: this one when installed; from a build tree, the installed one if there is
// one (with a note), else this one with a warning.
std::string unit_binary() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!in_build_tree(self)) return self.string();
  for (const char* installed : {"/usr/bin/rebound", "/usr/local/bin/rebound"})
    if (access(installed, X_OK) == 0) {
      std::cerr << fmt::format("note: ExecStart= names the installed {}, not this build's {}\n", installed,
                               self.string());
      return installed;
    }
  std::cerr << fmt::format("warning: ExecStart= names {}, a binary inside a build tree: the timer breaks when that "
                           "build is cleaned; install rebound (the .deb from `cpack -G DEB`, or `cmake --install`) "
                           "and print the units again\n",
                           self.string());
  return self.string();
}

}  // namespace

int print_systemd(const std::string& file) {
  auto suite = load_suite_or_say(file);
  if (!suite) return exit_code(Verdict::error);
  if (!suite->schedule) {
    std::cerr << fmt::format("{} has no [schedule]\n", file);
    return exit_code(Verdict::error);
  }
  const auto& s = *suite->schedule;
  std::error_code ec;
  const std::string self = unit_binary();
  const std::string path = fs::absolute(file, ec).string();
  std::cout << fmt::format("# /etc/systemd/system/rebound-{0}.service\n[Unit]\nDescription=rebound game-day: {1}\n"
                           "After=network-online.target\n\n[Service]\nType=oneshot\n"
                           "# Each run's reports go to a new folder under /var/lib/rebound/{0}/rebound-reports/.\n"
                           "StateDirectory=rebound/{0}\nWorkingDirectory=/var/lib/rebound/{0}\n"
                           "ExecStart={2} gameday {3} --no-progress\n"
                           "# SIGTERM makes rebound revert every fault before it exits.\nKillSignal=SIGTERM\n"
                           "TimeoutStopSec=120\n\n",
                           suite->name, suite->title, self, path);
  std::cout << fmt::format("# /etc/systemd/system/rebound-{}.timer\n[Unit]\nDescription=When to run rebound game-day "
                           "{}\n\n[Timer]\n",
                           suite->name, suite->name);
  std::cout << systemd_timer_lines(s) << "\n[Install]\nWantedBy=timers.target\n";
  return 0;
}

}  // namespace rebound
