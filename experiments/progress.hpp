#pragma once
// Live progress on a terminal (a block redrawn in place), plain log lines otherwise.
#include <spdlog/common.h>
#include <string>
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

class Progress {
 public:
  explicit Progress(bool live) : live_(live) {}
  ~Progress() { finish(); }
  // An event line: printed above the live block, or logged.
  void event(const std::string& line);
  void warning(const std::string& line);  // an event that needs the user's eye (a guard tripped)
  void update(const ProgressState& state);
  void finish();  // clears the live block

 private:
  void clear();
  void emit(spdlog::level::level_enum level, const std::string& line);  // the log when not live, else stderr
  bool live_;
  int drawn_lines_ = 0;
};

}  // namespace rebound
