#pragma once
// 5-field cron expressions in a stated time zone, and the next time they are due.
// Debian packages no C or C++ cron library (only Go, Perl and Ruby ones), hence this small one.
#include <bitset>
#include <ctime>
#include <optional>
#include <string>

#include "experiments/result.hpp"

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
  // systemd OnCalendar= for the same times, e.g. "Mon..Fri *-*-* 02:30:00 Europe/Berlin".
  std::string on_calendar() const;

 private:
  std::string text_, zone_;
  std::string fields_[5];
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;
  std::bitset<13> months_;
  std::bitset<7> weekdays_;
  bool any_day_ = true, any_weekday_ = true;  // cron's rule: if both are restricted, either may match
};

// Local broken-down time of a UTC instant in a zone ("UTC", "Europe/Berlin"), thread-safe.
std::tm local_time(std::time_t t, const std::string& zone);
bool valid_time_zone(const std::string& zone);

}  // namespace rebound
