// Cron expressions on a fake clock: fields, names, steps, the day-of-month/day-of-week rule, and DST.
#include <catch2/catch.hpp>

#include "experiments/cron.hpp"
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

TEST_CASE("cron: the same times as a systemd OnCalendar", "[unit][cron]") {
  CHECK(cron("30 2 * * 1-5", "Europe/Berlin").on_calendar() == "Mon..Fri *-*-* 2:30:00 Europe/Berlin");
  CHECK(cron("*/15 * * * *").on_calendar() == "*-*-* *:0/15:00 UTC");
  CHECK(cron("0 4 1 * *").on_calendar() == "*-*-1 4:0:00 UTC");
}
