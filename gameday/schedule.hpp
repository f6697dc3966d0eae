#pragma once
// When a suite runs: cron expressions, random times inside windows (as Gremlin does), blackout windows
// when nothing may start, and what to do about runs missed while rebound was down.
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "gameday/cron.hpp"
#include "config/duration.hpp"
#include "config/table_reader.hpp"

namespace rebound {

struct RandomWindow {
  CronExpression opens;  // each occurrence opens a window
  Millis within{0};      // the run starts at a random moment inside it
};

struct Blackout {
  CronExpression starts;
  Millis duration{0};
};

struct Schedule {
  std::string time_zone;
  std::vector<CronExpression> cron;
  std::vector<RandomWindow> random;
  std::vector<Blackout> blackouts;
  bool run_missed_once = false;  // missed = "run_once" (else "skip")
  std::string seed;              // the suite's name: random times are the same on every restart

  // The first start strictly after `after` that is not inside a blackout; `skipped` counts those that were.
  std::optional<std::time_t> next_due(std::time_t after, int* skipped = nullptr) const;
  // The blackout covering t, as its end, if any.
  std::optional<std::time_t> blackout_at(std::time_t t) const;
  // How many starts fell in (last_due, now].
  int missed(std::time_t last_due, std::time_t now) const;
};

// Reads a [schedule] table; nullopt after recording errors.
std::optional<Schedule> parse_schedule(TableReader& reader, const std::string& suite_name);

// The [Timer] section's lines (OnCalendar=..., RandomizedDelaySec=, Persistent=) for the same start times.
std::string systemd_timer_lines(const Schedule& schedule);

std::string format_local(std::time_t t, const std::string& zone);

}  // namespace rebound
