#include "experiments/progress.hpp"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "system/signals.hpp"

namespace rebound {

namespace {

size_t terminal_columns() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* env = std::getenv("COLUMNS"); env && std::atoi(env) > 0) return static_cast<size_t>(std::atoi(env));
  return 80;
}

// Length of the escape sequence starting at `i` (CSI "ESC [ ... final" or a two-byte ESC x), 0 if none.
size_t escape_length(std::string_view s, size_t i) {
  if (s[i] != '\x1b' || i + 1 >= s.size()) return 0;
  if (s[i + 1] != '[') return 2;
  size_t j = i + 2;
  while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7e)) ++j;
  return j < s.size() ? j - i + 1 : s.size() - i;
}

// A reason or a name with a line break or a tab would break the block's line count.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return text;
}

bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

}  // namespace

size_t visible_columns(std::string_view s) {
  size_t columns = 0;
  for (size_t i = 0; i < s.size();) {
    if (size_t n = escape_length(s, i)) {
      i += n;
      continue;
    }
    if (!continuation_byte(s[i])) ++columns;
    ++i;
  }
  return columns;
}

std::string fit_to_columns(std::string_view s, size_t columns) {
  if (visible_columns(s) <= columns) return std::string(s);
  std::string out;
  size_t used = 0;
  const size_t keep = columns > 0 ? columns - 1 : 0;  // room for the ellipsis
  for (size_t i = 0; i < s.size();) {
    if (size_t n = escape_length(s, i)) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    if (!continuation_byte(s[i]) && used++ == keep) break;
    out += s[i++];
  }
  if (columns > 0) out += "…";
  return out + "\x1b[0m";
}

Progress::Progress(bool live) : live_(live) {
  if (!live_) return;
  install_resize_handler();
  columns_ = terminal_columns();
}

std::string Progress::clear_sequence() {
  if (take_resize()) columns_ = terminal_columns();
  // A terminal that reflows on resize (tmux, VTE, kitty) wraps a line drawn for a wider window over more rows.
  size_t rows = 0;
  for (size_t width : drawn_) rows += width == 0 ? 1 : (width + columns_ - 1) / columns_;
  drawn_.clear();
  return rows == 0 ? std::string() : fmt::format("\r\x1b[{}A\x1b[J", rows);
}

void Progress::emit(spdlog::level::level_enum level, const std::string& line) {
  if (!live_) {
    spdlog::log(level, "{}", line);
    return;
  }
  std::string out = clear_sequence();
  std::fprintf(stderr, "%s%s%s\n", out.c_str(), level >= spdlog::level::warn ? "warning: " : "", line.c_str());
}

void Progress::event(const std::string& line) { emit(spdlog::level::info, line); }
void Progress::warning(const std::string& line) { emit(spdlog::level::warn, line); }

void Progress::update(const ProgressState& s) {
  if (!live_) return;
  std::vector<std::string> lines;
  lines.push_back(fmt::format("\x1b[1m{}\x1b[0m  phase \x1b[36m{}\x1b[0m  {:.1f}s (at most ~{:.1f}s)", one_line(s.experiment),
                              s.phase, s.elapsed_ms / 1000, s.planned_ms / 1000));
  // The state first after the name: on a narrow terminal the line is cut from the right, the reason first.
  for (const auto& p : s.probes) {
    std::string state = !p.has_sample ? "\x1b[2mwaiting\x1b[0m"
                        : p.ok        ? fmt::format("\x1b[32mok\x1b[0m   {:7.1f}ms", p.latency_ms)
                                      : fmt::format("\x1b[31mfail\x1b[0m {:7.1f}ms", p.latency_ms);
    std::string reason = p.has_sample && !p.ok ? "  " + one_line(p.reason) : "";
    lines.push_back(fmt::format("  probe {:<16} {:<8} {}  {:>6} samples {:>5} failed{}", p.name, p.type, state,
                                p.samples, p.failures, reason));
  }
  lines.push_back(fmt::format("  active faults: {}",
                              s.active_faults.empty() ? "none" : fmt::format("{}", fmt::join(s.active_faults, ", "))));
  std::string out = clear_sequence();
  // One column short of the edge: a line that fills the last column leaves some terminals in a pending wrap.
  const size_t room = columns_ > 1 ? columns_ - 1 : 1;
  for (const auto& line : lines) {
    std::string fitted = fit_to_columns(line, room);
    drawn_.push_back(visible_columns(fitted));
    out += fitted + "\n";
  }
  std::fputs(out.c_str(), stderr);
}

void Progress::finish() {
  if (live_) std::fputs(clear_sequence().c_str(), stderr);
}

}  // namespace rebound
