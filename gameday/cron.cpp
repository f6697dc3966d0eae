#include "gameday/cron.hpp"

#include <fmt/format.h>
#include <functional>
#include <sstream>
#include <vector>

namespace rebound {

namespace {

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
  // Vixie cron: the day fields are ANDed when either starts with '*' (so "*/2" counts as a star), ORed otherwise.
  c.days_and_ = fields[2].starts_with('*') || fields[4].starts_with('*');
  if (c.days_and_) {
    static const int longest[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool possible = false;
    for (int m = 1; m <= 12 && !possible; ++m)
      for (int d = 1; d <= longest[m] && !possible; ++d) possible = c.months_.test(m) && c.days_.test(d);
    if (!possible)
      return fail(fmt::format("'{}' never runs: day of month '{}' does not exist in month '{}'", text, fields[2],
                              fields[3]));
  }
  return c;
}

std::optional<std::time_t> CronExpression::next_after(std::time_t after) const {
  std::time_t t = after - after % 60 + 60;
  const std::time_t limit = after + 5LL * 366 * 24 * 3600;
  while (t < limit) {
    std::tm tm = local_time(t, zone_);
    const bool dom = days_.test(static_cast<size_t>(tm.tm_mday));
    const bool dow = weekdays_.test(static_cast<size_t>(tm.tm_wday));
    const bool day_ok = days_and_ ? dom && dow : dom || dow;
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

namespace {
// A set of values as systemd writes it: "*" when it is every value, else runs "a..b" and single values, in
// the given order.
std::string calendar_list(const std::vector<int>& order, const std::function<bool(int)>& has,
                          const std::function<std::string(int)>& name) {
  bool all = true;
  for (int v : order) all = all && has(v);
  if (all) return "*";
  std::string out;
  for (size_t i = 0; i < order.size();) {
    if (!has(order[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < order.size() && has(order[j + 1]) && order[j + 1] == order[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += name(order[i]);
    if (j == i + 1) out += "," + name(order[j]);
    else if (j > i) out += ".." + name(order[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> range(int lo, int hi) {
  std::vector<int> v;
  for (int i = lo; i <= hi; ++i) v.push_back(i);
  return v;
}
}  // namespace

std::vector<std::string> CronExpression::on_calendar() const {
  auto two = [](int v) { return fmt::format("{:02}", v); };
  auto plain = [](int v) { return std::to_string(v); };
  const std::string minutes = calendar_list(range(0, 59), [&](int v) { return minutes_.test(v); }, two);
  const std::string hours = calendar_list(range(0, 23), [&](int v) { return hours_.test(v); }, two);
  const std::string days = calendar_list(range(1, 31), [&](int v) { return days_.test(v); }, plain);
  const std::string months = calendar_list(range(1, 12), [&](int v) { return months_.test(v); }, plain);
  // systemd's week starts on Monday and its ranges do not wrap: Monday..Saturday are 1..6, Sunday 7.
  static const char* names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  std::string weekdays = calendar_list(range(1, 7), [&](int v) { return weekdays_.test(v % 7); },
                                       [](int v) { return std::string(names[v]); });
  auto line = [&](const std::string& wd, const std::string& d) {
    return fmt::format("{}*-{}-{} {}:{}:00 {}", wd == "*" ? "" : wd + " ", months, d, hours, minutes, zone_);
  };
  // systemd ANDs a weekday with the date; cron's OR of two restricted day fields takes two timers' lines.
  if (days_and_) return {line(weekdays, days)};
  if (weekdays == "*" || days == "*") return {line("*", "*")};  // "1-31" or "0-6" ORed: every day
  return {line("*", days), line(weekdays, "*")};
}

}  // namespace rebound
