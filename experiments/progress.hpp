#pragma once
// Live progress on a terminal (a block redrawn in place, each line cut to the terminal's width so that it
// never wraps), plain log lines otherwise.
#include <spdlog/common.h>
#include <string>
#include <string_view>
#include <vector>

namespace rebound {

struct ProbeStatus {
  std::string name;
  std::string type;
  bool has_sample = false;
  bool ok = false;
  double latency_ms = 0;
  std::string reason;
  size_t samples = 0, failures = 0;
};

struct ProgressState {
  std::string experiment;
  std::string phase;
  double elapsed_ms = 0;
  double planned_ms = 0;
  std::vector<ProbeStatus> probes;
  std::vector<std::string> active_faults;
};

// Columns a line takes on a terminal: escape sequences take none, each UTF-8 character one.
size_t visible_columns(std::string_view line);
// The line cut to at most `columns` visible columns, ending in "…" (and a style reset) when it was cut.
std::string fit_to_columns(std::string_view line, size_t columns);

class Progress {
 public:
  explicit Progress(bool live);
  ~Progress() { finish(); }
  // An event line: printed above the live block, or logged.
  void event(const std::string& line);
  void warning(const std::string& line);  // an event that needs the user's eye (a guard tripped)
  void update(const ProgressState& state);
  void finish();  // clears the live block

 private:
  std::string clear_sequence();  // moves up over the block as the terminal shows it now, and erases below
  void emit(spdlog::level::level_enum level, const std::string& line);  // the log when not live, else stderr
  bool live_;
  size_t columns_ = 80;
  std::vector<size_t> drawn_;  // visible columns of each line of the block on screen
};

}  // namespace rebound
