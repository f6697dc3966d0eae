#include "experiments/cron.hpp"

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>
#include <sstream>
#include <vector>

namespace rebound {

namespace {

std::mutex g_tz_mutex;  // TZ is process-wide: one conversion at a time

int name_value(const std::string& token, int field) {
  static const char* months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  static const char* days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::string lower;
  for (char c : token) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (field == 3)
    for (int i = 0; i < 12; ++i)
      if (lower == months[i]) return i + 1;
  if (field == 4)
    for (int i = 0; i < 7; ++i)
      if (lower == days[i]) return i;
  size_t used = 0;
  int v = -1;
  try {
    v = std::stoi(token, &used);
  } catch (...) {
    return -1;
  }
  return used == token.size() ? v : -1;
}

// Fills bits [lo, hi] of one field; an error names the field and the bad part.
template <size_t N>
Result<void> parse_field(const std::string& text, int field, int lo, int hi, std::bitset<N>& bits) {
  static const char* names[] = {"minute", "hour", "day of month", "month", "day of week"};
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) {
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      step = name_value(part.substr(slash + 1), -1);
      if (step < 1) return fail(fmt::format("bad step in the {} field: '{}'", names[field], part));
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      auto dash = part.find('-');
      a = name_value(part.substr(0, dash), field);
      b = dash == std::string::npos ? (step > 1 ? hi : a) : name_value(part.substr(dash + 1), field);
      int top = field == 4 ? 7 : hi;
      if (a < lo || b > top || a > b || a < 0)
        return fail(fmt::format("'{}' is out of range for the {} field ({}-{})", part, names[field], lo, hi));
    }
    for (int v = a; v <= b; v += step) bits.set(static_cast<size_t>(field == 4 ? v % 7 : v));
  }
  return {};
}

}  // namespace

bool valid_time_zone(const std::string& zone) {
  if (zone == "UTC") return true;
  if (zone.empty() || zone.find("..") != std::string::npos || zone.front() == '/') return false;
  return std::filesystem::exists("/usr/share/zoneinfo/" + zone);
}

std::tm local_time(std::time_t t, const std::string& zone) {
  std::lock_guard lock(g_tz_mutex);
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  setenv("TZ", zone.c_str(), 1);
  tzset();
  std::tm tm{};
  localtime_r(&t, &tm);
  if (old) setenv("TZ", saved.c_str(), 1);
  else unsetenv("TZ");
  tzset();
  return tm;
}

Result<CronExpression> CronExpression::parse(const std::string& text, const std::string& time_zone) {
  if (!valid_time_zone(time_zone))
    return fail(fmt::format("unknown time zone '{}': use a name from /usr/share/zoneinfo such as \"UTC\" or "
                            "\"Europe/Berlin\"",
                            time_zone));
  std::string expr = text;
  if (expr == "@hourly") expr = "0 * * * *";
  else if (expr == "@daily" || expr == "@midnight") expr = "0 0 * * *";
  else if (expr == "@weekly") expr = "0 0 * * 0";
  else if (expr == "@monthly") expr = "0 0 1 * *";
  else if (expr == "@yearly" || expr == "@annually") expr = "0 0 1 1 *";
  std::stringstream in(expr);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() != 5)
    return fail(fmt::format("'{}' has {} fields; a cron expression has 5: minute hour day-of-month month day-of-week",
                            text, fields.size()));
  CronExpression c;
  c.text_ = text;
  c.zone_ = time_zone;
  for (int i = 0; i < 5; ++i) c.fields_[i] = fields[static_cast<size_t>(i)];
  Result<void> r;
  if (r = parse_field(fields[0], 0, 0, 59, c.minutes_); !r) return r.error();
  if (r = parse_field(fields[1], 1, 0, 23, c.hours_); !r) return r.error();
  if (r = parse_field(fields[2], 2, 1, 31, c.days_); !r) return r.error();
  if (r = parse_field(fields[3], 3, 1, 12, c.months_); !r) return r.error();
  if (r = parse_field(fields[4], 4, 0, 6, c.weekdays_); !r) return r.error();
  c.any_day_ = fields[2] == "*";
  c.any_weekday_ = fields[4] == "*";
  return c;
}

std::optional<std::time_t> CronExpression::next_after(std::time_t after) const {
  std::time_t t = after - after % 60 + 60;
  const std::time_t limit = after + 5LL * 366 * 24 * 3600;
  while (t < limit) {
    std::tm tm = local_time(t, zone_);
    bool day_ok = any_day_ && any_weekday_   ? true
                  : any_day_                 ? weekdays_.test(static_cast<size_t>(tm.tm_wday))
                  : any_weekday_             ? days_.test(static_cast<size_t>(tm.tm_mday))
                                             : days_.test(static_cast<size_t>(tm.tm_mday)) ||
                                       weekdays_.test(static_cast<size_t>(tm.tm_wday));
    if (!months_.test(static_cast<size_t>(tm.tm_mon + 1)) || !day_ok || !hours_.test(static_cast<size_t>(tm.tm_hour))) {
      t += (60 - tm.tm_min) * 60;  // on to the next local hour
      continue;
    }
    if (!minutes_.test(static_cast<size_t>(tm.tm_min))) {
      t += 60;
      continue;
    }
    // When clocks go back, the same local minute comes twice: a job at a fixed hour runs at the first one
    // only; a job for every hour runs every real hour (as cron does).
    std::tm earlier = local_time(t - 3600, zone_);
    if (fields_[1] != "*" && earlier.tm_hour == tm.tm_hour && earlier.tm_min == tm.tm_min &&
        earlier.tm_mday == tm.tm_mday) {
      t += 60;
      continue;
    }
    return t;
  }
  return std::nullopt;
}

std::string CronExpression::on_calendar() const {
  auto translate = [](const std::string& f) {
    if (f == "*") return std::string("*");
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] == '-') out += "..";
      else out += f[i];
    }
    if (out.starts_with("*/")) out = "0/" + out.substr(2);
    return out;
  };
  auto weekday = [&](const std::string& f) {
    if (f == "*") return std::string();
    static const char* names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    std::string out;
    std::string token;
    for (char ch : f + ",") {
      if (ch == ',' || ch == '-') {
        int v = name_value(token, 4);
        out += v >= 0 && v <= 7 ? names[v] : token;
        out += ch == ',' ? "," : "..";
        token.clear();
      } else {
        token += ch;
      }
    }
    out.pop_back();
    return out + " ";
  };
  std::string month = translate(fields_[3]), day = translate(fields_[2]);
  return fmt::format("{}*-{}-{} {}:{}:00 {}", weekday(fields_[4]), month == "*" ? "*" : month, day == "*" ? "*" : day,
                     translate(fields_[1]), translate(fields_[0]), zone_);
}

}  // namespace rebound
