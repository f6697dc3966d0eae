// Cron expressions on a fake clock: fields, names, steps, the day-of-month/day-of-week rule, and DST.
#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sstream>

#include "gameday/cron.hpp"
#include "system/subprocess.hpp"
#include "helpers.hpp"

using rebound::CronExpression;

namespace {
using test::utc;
// UTC seconds for a UTC date and time.
CronExpression cron(const std::string& text, const std::string& zone = "UTC") {
  auto c = CronExpression::parse(text, zone);
  INFO(text << ": " << (c ? "" : c.error().message));
  REQUIRE(c);
  return *c;
}
}  // namespace

TEST_CASE("cron: the next due time in UTC", "[unit][cron]") {
  CHECK(*cron("*/15 * * * *").next_after(utc(2026, 1, 1, 10, 7)) == utc(2026, 1, 1, 10, 15));
  CHECK(*cron("0 3 * * *").next_after(utc(2026, 1, 1, 3, 0)) == utc(2026, 1, 2, 3, 0));  // strictly after
  CHECK(*cron("30 2 1 jan,jul *").next_after(utc(2026, 2, 1, 0, 0)) == utc(2026, 7, 1, 2, 30));
  CHECK(*cron("0 9 * * mon-fri").next_after(utc(2026, 11, 27, 12, 0)) == utc(2026, 11, 30, 9, 0));  // Fri -> Mon
  CHECK(*cron("0 0 29 2 *").next_after(utc(2026, 3, 1, 0, 0)) == utc(2028, 2, 29, 0, 0));          // leap day
  CHECK(*cron("0 12 * * 7").next_after(utc(2026, 11, 26, 0, 0)) == utc(2026, 11, 29, 12, 0));     // 7 = Sunday
  CHECK(*cron("@daily").next_after(utc(2026, 11, 26, 0, 0)) == utc(2026, 11, 27, 0, 0));
}

TEST_CASE("cron: day of month and day of week together mean either", "[unit][cron]") {
  // The 13th, or any Friday: from Thu 2026-11-12 the next is Fri the 13th, then Fri the 20th.
  auto c = cron("0 0 13 * fri");
  auto first = *c.next_after(utc(2026, 11, 12, 1, 0));
  CHECK(first == utc(2026, 11, 13, 0, 0));
  CHECK(*c.next_after(first) == utc(2026, 11, 20, 0, 0));
}

TEST_CASE("cron: local time in a stated zone", "[unit][cron]") {
  // 02:30 in Berlin in winter is 01:30 UTC.
  CHECK(*cron("30 2 * * *", "Europe/Berlin").next_after(utc(2026, 1, 10, 12, 0)) == utc(2026, 1, 11, 1, 30));
}

TEST_CASE("cron: a local time that DST skips does not run that day", "[unit][cron]") {
  // Berlin, 2026-03-29: 02:00 jumps to 03:00, so 02:30 does not exist; the next 02:30 is on the 30th (CEST, 00:30 UTC).
  CHECK(*cron("30 2 * * *", "Europe/Berlin").next_after(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 30, 0, 30));
  // 03:30 on the 29th exists, once.
  CHECK(*cron("30 3 * * *", "Europe/Berlin").next_after(utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 30));
}

TEST_CASE("cron: a local time that DST repeats runs once", "[unit][cron]") {
  // Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC. Only the first runs.
  auto c = cron("30 2 * * *", "Europe/Berlin");
  auto first = *c.next_after(utc(2026, 10, 24, 12, 0));
  CHECK(first == utc(2026, 10, 25, 0, 30));
  CHECK(*c.next_after(first) == utc(2026, 10, 26, 1, 30));
  // An every-hour job runs every real hour through the change: 23:00, 00:00, 01:00, 02:00 and 03:00 UTC
  // (local 01:00, 02:00 CEST, 02:00 CET, 03:00, 04:00).
  auto hourly = cron("0 * * * *", "Europe/Berlin");
  std::time_t t = utc(2026, 10, 24, 22, 30);
  int runs = 0;
  while ((t = *hourly.next_after(t)) < utc(2026, 10, 25, 4, 0)) ++runs;
  CHECK(runs == 5);
}

TEST_CASE("cron: errors name the field and the range", "[unit][cron]") {
  CHECK(CronExpression::parse("61 * * * *", "UTC").error().message == "'61' is out of range for the minute field (0-59)");
  CHECK(CronExpression::parse("* * * *", "UTC").error().message ==
        "'* * * *' has 4 fields; a cron expression has 5: minute hour day-of-month month day-of-week");
  CHECK(CronExpression::parse("*/0 * * * *", "UTC").error().message == "bad step in the minute field: '*/0'");
  CHECK(CronExpression::parse("0 0 * * *", "Mars/Olympus").error().message ==
        "unknown time zone 'Mars/Olympus': use a name from /usr/share/zoneinfo such as \"UTC\" or \"Europe/Berlin\"");
}

TEST_CASE("cron: the day fields AND when either starts with '*', as Vixie cron does", "[unit][cron]") {
  // Issue 17 item 14: "0 9 */2 * 1" is an odd day of the month that is a Monday (cronie: Mon 2026-12-07);
  // rebound said Sun 11-29.
  CHECK(*cron("0 9 */2 * 1").next_after(utc(2026, 11, 27, 12, 0)) == utc(2026, 12, 7, 9, 0));
  // "0 9 1 * mon": neither starts with '*', so the 1st or a Monday.
  CHECK(*cron("0 9 1 * mon").next_after(utc(2026, 11, 27, 12, 0)) == utc(2026, 11, 30, 9, 0));
  CHECK(*cron("0 9 1 * mon").next_after(utc(2026, 11, 30, 9, 0)) == utc(2026, 12, 1, 9, 0));
  // "*/1" in the weekday field starts with '*' too: days 1-7 AND every weekday.
  CHECK(*cron("0 0 1-7 * */1").next_after(utc(2026, 11, 8, 0, 0)) == utc(2026, 12, 1, 0, 0));
}

TEST_CASE("cron: a date that never exists is refused", "[unit][cron]") {
  CHECK(CronExpression::parse("0 0 30 2 *", "UTC").error().message ==
        "'0 0 30 2 *' never runs: day of month '30' does not exist in month '2'");
  CHECK(CronExpression::parse("0 0 31 apr,jun *", "UTC").error().message ==
        "'0 0 31 apr,jun *' never runs: day of month '31' does not exist in month 'apr,jun'");
  CHECK(CronExpression::parse("0 0 29 2 *", "UTC"));    // leap years
  CHECK(CronExpression::parse("0 0 30 2 mon", "UTC"));  // the 30th or a Monday: Mondays in February
}

TEST_CASE("cron: the same times as a systemd OnCalendar", "[unit][cron]") {
  using Lines = std::vector<std::string>;
  CHECK(cron("30 2 * * 1-5", "Europe/Berlin").on_calendar() == Lines{"Mon..Fri *-*-* 02:30:00 Europe/Berlin"});
  CHECK(cron("*/15 * * * *").on_calendar() == Lines{"*-*-* *:00,15,30,45:00 UTC"});
  CHECK(cron("0 4 1 * *").on_calendar() == Lines{"*-*-1 04:00:00 UTC"});
  CHECK(cron("0 9 */2 jan-mar 1").on_calendar() ==
        Lines{"Mon *-1..3-1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31 09:00:00 UTC"});
  CHECK(cron("0 9 1 * mon").on_calendar() == Lines{"*-*-1 09:00:00 UTC", "Mon *-*-* 09:00:00 UTC"});
  CHECK(cron("0 0 * * sat,sun").on_calendar() == Lines{"Sat,Sun *-*-* 00:00:00 UTC"});
  CHECK(cron("0 0 1-31 * mon").on_calendar() == Lines{"*-*-* 00:00:00 UTC"});  // Vixie: every day
}

namespace {
// The next `count` times systemd-analyze computes for these OnCalendar lines (merged, as one timer would).
std::vector<std::time_t> systemd_next(const std::vector<std::string>& lines, std::time_t base, size_t count) {
  rebound::CommandSpec spec;
  spec.argv = {"systemd-analyze", "calendar", fmt::format("--iterations={}", count), fmt::format("--base-time=@{}", base)};
  spec.argv.insert(spec.argv.end(), lines.begin(), lines.end());
  spec.env["TZ"] = "UTC";
  spec.timeout = rebound::Millis(20'000);
  auto r = rebound::run_command(spec);
  REQUIRE(r);
  INFO(r->out << r->err);
  REQUIRE(r->exit_code == 0);
  std::vector<std::time_t> out;
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    if (line.find("Next elapse:") == std::string::npos && line.find("Iter. #") == std::string::npos) continue;
    std::tm tm{};
    auto at = line.find(": ");
    REQUIRE(strptime(line.c_str() + at + 2, "%a %Y-%m-%d %H:%M:%S UTC", &tm));
    out.push_back(timegm(&tm));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > count) out.resize(count);
  return out;
}
}  // namespace

TEST_CASE("cron: the printed systemd timer fires when rebound schedule would", "[unit][cron]") {
  struct Row {
    const char* expr;
    const char* zone;
    std::time_t base;
  };
  const std::time_t late_nov = utc(2026, 11, 27, 12, 0);
  const Row table[] = {
      {"0 9 1 * mon", "UTC", late_nov},
      {"0 9 */2 * 1", "UTC", late_nov},
      {"15 10 1-7 * 1", "UTC", late_nov},
      {"0 8 1-31 * fri", "UTC", late_nov},
      {"0 12 13 * fri", "Europe/Berlin", late_nov},
      {"30 2 * jan-mar *", "Europe/Berlin", late_nov},
      {"*/20 9-17 * * mon-fri", "Europe/Berlin", late_nov},
      {"0 */6 * * sat,sun", "America/New_York", late_nov},
      {"5 4 * * sun", "America/New_York", late_nov},
      {"0 0 29 2 *", "UTC", late_nov},
      {"0 0 31 * *", "Asia/Kolkata", late_nov},
      {"@weekly", "Australia/Sydney", late_nov},
      // Around DST changes: a skipped local time does not run that day; a repeated one runs once.
      {"30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12, 0)},
      {"30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12, 0)},
      {"0 1 * * *", "America/New_York", utc(2026, 10, 31, 12, 0)},
  };
  for (const auto& row : table) {
    auto c = cron(row.expr, row.zone);
    std::vector<std::time_t> ours;
    for (std::time_t t = row.base; ours.size() < 6;) {
      auto next = c.next_after(t);
      REQUIRE(next);
      ours.push_back(t = *next);
    }
    INFO(row.expr << " in " << row.zone << ": " << fmt::format("{}", fmt::join(c.on_calendar(), " | ")));
    CHECK(systemd_next(c.on_calendar(), row.base, 6) == ours);
  }
}

TEST_CASE("time zones: local times across known DST transitions, without touching TZ", "[unit][cron]") {
  auto local = [](std::time_t t, const char* zone) {
    std::tm tm = rebound::local_time(t, zone);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %a", &tm);
    return fmt::format("{} {} {}", text, tm.tm_zone, tm.tm_gmtoff);
  };
  setenv("TZ", "Asia/Tokyo", 1);  // conversions must not depend on it, nor change it
  // Berlin springs forward at 01:00 UTC on 2026-03-29 and falls back at 01:00 UTC on 2026-10-25.
  CHECK(local(utc(2026, 3, 29, 0, 59) + 59, "Europe/Berlin") == "2026-03-29 01:59:59 Sun CET 3600");
  CHECK(local(utc(2026, 3, 29, 1, 0), "Europe/Berlin") == "2026-03-29 03:00:00 Sun CEST 7200");
  CHECK(local(utc(2026, 10, 25, 0, 59), "Europe/Berlin") == "2026-10-25 02:59:00 Sun CEST 7200");
  CHECK(local(utc(2026, 10, 25, 1, 0), "Europe/Berlin") == "2026-10-25 02:00:00 Sun CET 3600");
  // New York falls back at 06:00 UTC on 2026-11-01.
  CHECK(local(utc(2026, 11, 1, 5, 59), "America/New_York") == "2026-11-01 01:59:00 Sun EDT -14400");
  CHECK(local(utc(2026, 11, 1, 6, 0), "America/New_York") == "2026-11-01 01:00:00 Sun EST -18000");
  // Sydney springs forward on the first Sunday of October (2026-10-04, 16:00 UTC the day before).
  CHECK(local(utc(2026, 10, 3, 16, 0), "Australia/Sydney") == "2026-10-04 03:00:00 Sun AEDT 39600");
  // Past the zone file's last transition (2037), from its POSIX rule: Berlin 2040-03-25.
  CHECK(local(utc(2040, 3, 25, 1, 0), "Europe/Berlin") == "2040-03-25 03:00:00 Sun CEST 7200");
  CHECK(local(utc(2026, 1, 1, 0, 0), "UTC") == "2026-01-01 00:00:00 Thu UTC 0");
  CHECK(std::string(std::getenv("TZ")) == "Asia/Tokyo");
  unsetenv("TZ");
  CHECK(rebound::valid_time_zone("Europe/Berlin"));
  CHECK_FALSE(rebound::valid_time_zone("Mars/Olympus"));
  CHECK_FALSE(rebound::valid_time_zone("../../etc/passwd"));
}
