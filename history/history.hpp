#pragma once
// Run history in SQLite: one row per experiment run, for `rebound history`, trends and regression gates.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/result.hpp"

struct sqlite3;

namespace rebound {

struct HistoryRow {
  int64_t id = 0;
  std::string experiment, started_at, verdict, status, host, journal;
  std::optional<double> time_to_recover_ms, time_to_impact_ms, error_ratio, p50_ms, p95_ms, p99_ms;
  std::optional<double> time_to_heal_ms;  // none for runs recorded before rebound measured it, or that never healed
  std::optional<double> recover_within_ms, heal_within_ms;  // the run's SLO, for its trend's projection
  double duration_ms = 0;
};

class History {
 public:
  static Result<std::unique_ptr<History>> open(const std::string& path);
  ~History();
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  Result<int64_t> record(const nlohmann::json& journal, const std::string& journal_path);
  // Newest first; every experiment when `experiment` is empty.
  Result<std::vector<HistoryRow>> runs(const std::string& experiment, int limit);
  // `which` is "last" (the newest run of the experiment) or a run id.
  Result<std::optional<HistoryRow>> baseline(const std::string& experiment, const std::string& which);

  // The last time `rebound schedule` started the suite (UTC seconds), so a restart resumes the schedule.
  Result<std::optional<int64_t>> last_due(const std::string& suite);
  Result<void> set_last_due(const std::string& suite, int64_t due);

  // One history per user and host, wherever the reports go: REBOUND_HISTORY, else
  // /var/lib/rebound/history.sqlite for root, else $XDG_STATE_HOME (or ~/.local/state)/rebound/history.sqlite.
  static std::string default_path();

 private:
  explicit History(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// History::default_path's choice, from its inputs (for tests).
std::string default_history_path(bool root, const char* history, const char* xdg_state_home, const char* home);

}  // namespace rebound
