#include "probes/expectation.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace rebound {

namespace {
constexpr std::string_view kOperators[] = {"<=", ">=", "==", "!=", "<", ">"};  // two-character ones first

Expectation::Op op_of(std::string_view symbol) {
  if (symbol == "<=") return Expectation::Op::LessEqual;
  if (symbol == ">=") return Expectation::Op::GreaterEqual;
  if (symbol == "==") return Expectation::Op::Equal;
  if (symbol == "!=") return Expectation::Op::NotEqual;
  if (symbol == "<") return Expectation::Op::Less;
  return Expectation::Op::Greater;
}

std::string_view symbol_of(Expectation::Op op) {
  switch (op) {
    case Expectation::Op::Less: return "<";
    case Expectation::Op::LessEqual: return "<=";
    case Expectation::Op::Greater: return ">";
    case Expectation::Op::GreaterEqual: return ">=";
    case Expectation::Op::Equal: return "==";
    case Expectation::Op::NotEqual: return "!=";
  }
  return "?";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}
}  // namespace

Result<Expectation> Expectation::parse(std::string_view text) {
  const std::string shown = text.size() > 64 ? std::string(text.substr(0, 64)) + "..." : std::string(text);
  const std::string hint = fmt::format("'{}' is not an expectation: write an operator (<, <=, >, >=, ==, !=) and a "
                                       "number, such as \"< 0.01\" or \">= 3\"",
                                       shown);
  std::string_view rest = trim(text);
  Expectation e;
  bool found = false;
  for (std::string_view symbol : kOperators)
    if (rest.starts_with(symbol)) {
      e.op_ = op_of(symbol);
      rest.remove_prefix(symbol.size());
      found = true;
      break;
    }
  if (!found) return fail(hint);
  rest = trim(rest);
  std::optional<double> bound = parse_prometheus_number(rest);
  if (!bound) return fail(hint);
  if (!std::isfinite(*bound))
    return fail(fmt::format("'{}': the number to compare with must be finite (not NaN or Inf)", shown));
  e.bound_ = *bound;
  return e;
}

bool Expectation::holds(double value) const {
  switch (op_) {
    case Op::Less: return value < bound_;
    case Op::LessEqual: return value <= bound_;
    case Op::Greater: return value > bound_;
    case Op::GreaterEqual: return value >= bound_;
    case Op::Equal: return value == bound_;
    case Op::NotEqual: return !std::isnan(value) && value != bound_;
  }
  return false;
}

std::string Expectation::text() const { return fmt::format("{} {}", symbol_of(op_), format_value(bound_)); }

std::optional<Expectation> read_expectation(TableReader& reader) {
  auto text = reader.string("expect", true);
  if (!text) return std::nullopt;
  auto e = Expectation::parse(*text);
  if (!e) {
    reader.error("expect", e.error().message);
    return std::nullopt;
  }
  return *e;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{:.6g}", value);
}

std::optional<double> parse_prometheus_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string_view unsigned_part = text;
  bool negative = false;
  if (text.front() == '+' || text.front() == '-') {
    negative = text.front() == '-';
    unsigned_part.remove_prefix(1);
  }
  if (equals_ignoring_case(unsigned_part, "inf") || equals_ignoring_case(unsigned_part, "infinity"))
    return negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  if (equals_ignoring_case(text, "nan")) return std::numeric_limits<double>::quiet_NaN();
  // from_chars takes no '+' and reads "inf"/"nan" itself: only digits, '.', and an exponent get here.
  if (unsigned_part.empty() || !(std::isdigit(static_cast<unsigned char>(unsigned_part.front())) ||
                                 unsigned_part.front() == '.'))
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(unsigned_part.data(), unsigned_part.data() + unsigned_part.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Too large: Prometheus (Go's ParseFloat) says ±Inf; too small: 0.
    const size_t e = unsigned_part.find_first_of("eE");
    const bool tiny = e != std::string_view::npos && e + 1 < unsigned_part.size() && unsigned_part[e + 1] == '-';
    value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc() || end != unsigned_part.data() + unsigned_part.size()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

}  // namespace rebound
