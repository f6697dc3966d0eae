#pragma once
// Local time in a named zone of the tz database (/usr/share/zoneinfo), through Abseil's cctz: each zone
// file is read once and cached, and no conversion touches the process environment. (Setting TZ while
// other threads copy `environ` to start children aborted `rebound schedule`.)
#include <ctime>
#include <string>

namespace rebound {

// A name from /usr/share/zoneinfo ("UTC", "Europe/Berlin"); no paths.
bool valid_time_zone(const std::string& zone);
// Local broken-down time of a UTC instant in a zone (tm_wday 0 = Sunday); UTC for an unknown zone.
// Thread-safe.
std::tm local_time(std::time_t t, const std::string& zone);

}  // namespace rebound
