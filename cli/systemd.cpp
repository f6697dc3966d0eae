#include "cli/systemd.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <iostream>

#include "cli/common.hpp"
#include "gameday/schedule.hpp"

namespace fs = std::filesystem;

namespace rebound {

int print_systemd(const std::string& file) {
  auto suite = load_suite_or_say(file);
  if (!suite) return exit_code(Verdict::error);
  if (!suite->schedule) {
    std::cerr << fmt::format("{} has no [schedule]\n", file);
    return exit_code(Verdict::error);
  }
  const auto& s = *suite->schedule;
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
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
