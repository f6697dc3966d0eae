#include "config/diagnostics.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>

namespace rebound {

std::string Diagnostic::format() const {
  return fmt::format("{}:{}:{}: error: {}: {}", file, line, column, key, message);
}

std::string clip(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return fmt::format("{}… ({} characters)", text.substr(0, cut), text.size());
}

void Diagnostics::error(int line, int column, std::string key, std::string message) {
  // Backstops: a key path is clipped here; values are clipped where a message quotes them.
  constexpr size_t kMaxKey = 200, kMaxMessage = 2000;
  if (key.size() > kMaxKey) key = clip(key, kMaxKey);
  if (message.size() > kMaxMessage) message = clip(message, kMaxMessage);
  items_.push_back({file_, line, column, std::move(key), std::move(message)});
}

std::string Diagnostics::format_all() const {
  // An unknown key is usually the cause of the rest (a misspelt [[probes]] leaves "no probes" and "no probe named"
  // behind): those come first, each group in file order.
  auto unknown = [](const Diagnostic& d) { return d.message.starts_with("unknown key"); };
  std::string out;
  for (bool first : {true, false})
    for (const auto& d : items_)
      if (unknown(d) == first) out += d.format() + "\n";
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  if (word.size() > 100) return best;  // nothing that long is a typo of a key, and the distance is quadratic
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = closest_match(word, candidates);
  return best.empty() ? std::string() : fmt::format("; did you mean '{}'?", best);
}

}  // namespace rebound
