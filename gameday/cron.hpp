#pragma once
// 5-field cron expressions in a stated time zone, and the next time they are due.
// Debian packages no C or C++ cron library (only Go, Perl and Ruby ones), hence this small one.
#include <bitset>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "gameday/time_zone.hpp"

namespace rebound {

class CronExpression {
 public:
  // "m h dom mon dow": numbers, *, ranges a-b, steps */n and a-b/n, lists a,b; month and weekday names
  // (jan, mon); weekday 0 and 7 are Sunday; @hourly, @daily, @weekly, @monthly, @yearly.
  static Result<CronExpression> parse(const std::string& text, const std::string& time_zone);

  // The first due time strictly after `after` (UTC seconds), or nullopt within the next 5 years.
  // It walks real minutes and reads each as local time in the zone, so a local time that a DST change
  // skips does not run that day (as with systemd's OnCalendar), and when a DST change repeats an hour, a
  // job with a fixed hour runs once (at the first occurrence) while an every-hour job runs every real hour.
  std::optional<std::time_t> next_after(std::time_t after) const;

  const std::string& text() const { return text_; }
  const std::string& time_zone() const { return zone_; }
  // systemd OnCalendar= lines for the same times, e.g. "Mon..Fri *-*-* 02:30:00 Europe/Berlin"; two lines when
  // cron ORs the two day fields. One difference remains: when clocks go back, systemd runs an every-hour job
  // once in the repeated hour, cron (and rebound) every real hour.
  std::vector<std::string> on_calendar() const;

 private:
  std::string text_, zone_;
  std::string fields_[5];
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;
  std::bitset<13> months_;
  std::bitset<7> weekdays_;
  bool days_and_ = true;  // Vixie cron: both day fields must match when either starts with '*'; else either may
};

}  // namespace rebound
