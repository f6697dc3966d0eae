#include "gameday/time_zone.hpp"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

namespace rebound {

namespace {
bool load(const std::string& zone, absl::TimeZone* tz) {
  if (zone.empty() || zone.front() == '/' || zone.find("..") != std::string::npos) return false;
  return absl::LoadTimeZone(zone, tz);  // cached by cctz after the first load, under its own lock
}
}  // namespace

bool valid_time_zone(const std::string& zone) {
  absl::TimeZone tz;
  return load(zone, &tz);
}

std::tm local_time(std::time_t t, const std::string& zone) {
  absl::TimeZone tz = absl::UTCTimeZone();
  load(zone, &tz);
  const absl::TimeZone::CivilInfo info = tz.At(absl::FromTimeT(t));
  const absl::CivilSecond cs = info.cs;
  const absl::CivilDay day(cs);
  std::tm tm{};
  tm.tm_year = static_cast<int>(cs.year() - 1900);
  tm.tm_mon = cs.month() - 1;
  tm.tm_mday = cs.day();
  tm.tm_hour = cs.hour();
  tm.tm_min = cs.minute();
  tm.tm_sec = cs.second();
  tm.tm_wday = (static_cast<int>(absl::GetWeekday(day)) + 1) % 7;  // Abseil counts from Monday
  tm.tm_yday = absl::GetYearDay(day) - 1;
  tm.tm_isdst = info.is_dst ? 1 : 0;
  tm.tm_gmtoff = info.offset;
  tm.tm_zone = info.zone_abbr;  // lives as long as the cached zone, i.e. the process
  return tm;
}

}  // namespace rebound
