#include <catch2/catch.hpp>

#include "config/duration.hpp"

using namespace rebound;

TEST_CASE("durations are read with their unit", "[unit][duration]") {
  CHECK(parse_duration("250ms")->count() == 250);
  CHECK(parse_duration("5s")->count() == 5000);
  CHECK(parse_duration("1.5s")->count() == 1500);
  CHECK(parse_duration("2m")->count() == 120000);
  CHECK(parse_duration("1h")->count() == 3600000);
  CHECK(parse_duration("500us")->count() == Approx(0.5));
}

TEST_CASE("durations without a known unit are refused", "[unit][duration]") {
  CHECK_FALSE(parse_duration("5"));
  CHECK_FALSE(parse_duration("5 s"));
  CHECK_FALSE(parse_duration("5sec"));
  CHECK_FALSE(parse_duration("ms"));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("-5s"));
}

TEST_CASE("durations are printed in their shortest exact form", "[unit][duration]") {
  CHECK(format_duration(Millis(250)) == "250ms");
  CHECK(format_duration(Millis(1500)) == "1.5s");
  CHECK(format_duration(Millis(120000)) == "2m");
}
