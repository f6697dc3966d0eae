#pragma once
// What a value read from a metrics system must be: `expect = "< 0.01"` (operators < <= > >= == !=).
// Shared by the metrics and prometheus probes.
#include <optional>
#include <string>
#include <string_view>

#include "config/result.hpp"
#include "config/table_reader.hpp"

namespace rebound {

class Expectation {
 public:
  enum class Op { Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual };

  // Strict: optional spaces, an operator, optional spaces, a finite number, optional spaces. The error says
  // what to write instead (the caller names the key).
  static Result<Expectation> parse(std::string_view text);

  // False for NaN (no comparison holds for it; callers report NaN on its own).
  bool holds(double value) const;
  std::string text() const;  // "< 0.01"

 private:
  Op op_ = Op::Less;
  double bound_ = 0;
};

// The required `expect` key of the metrics and prometheus probes; nullopt after recording the error.
std::optional<Expectation> read_expectation(TableReader& reader);

// A value as samples and reasons show it: integers whole, others with 6 significant digits, NaN and ±Inf by name.
std::string format_value(double value);

// Parses a number as Prometheus writes one: decimal or exponent notation, NaN, +Inf, -Inf, Inf (any case).
std::optional<double> parse_prometheus_number(std::string_view text);

}  // namespace rebound
