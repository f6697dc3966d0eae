#include "history/history.hpp"

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace rebound {

namespace {

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }
  void bind(int i, const std::string& v) { sqlite3_bind_text(stmt_, i, v.c_str(), -1, SQLITE_TRANSIENT); }
  void bind(int i, const std::optional<double>& v) {
    if (v) sqlite3_bind_double(stmt_, i, *v);
    else sqlite3_bind_null(stmt_, i);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::optional<double> opt(const nlohmann::json& j, const char* key) {
  if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

std::optional<double> column(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(s, i);
}

std::string text(sqlite3_stmt* s, int i) {
  auto* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

constexpr const char* kColumns =
    "id, experiment, started_at, verdict, status, host, journal, time_to_recover_ms, time_to_impact_ms, error_ratio, "
    "p50_ms, p95_ms, p99_ms, duration_ms, time_to_heal_ms, recover_within_ms, heal_within_ms";

HistoryRow read_row(sqlite3_stmt* s) {
  HistoryRow r;
  r.id = sqlite3_column_int64(s, 0);
  r.experiment = text(s, 1);
  r.started_at = text(s, 2);
  r.verdict = text(s, 3);
  r.status = text(s, 4);
  r.host = text(s, 5);
  r.journal = text(s, 6);
  r.time_to_recover_ms = column(s, 7);
  r.time_to_impact_ms = column(s, 8);
  r.error_ratio = column(s, 9);
  r.p50_ms = column(s, 10);
  r.p95_ms = column(s, 11);
  r.p99_ms = column(s, 12);
  r.duration_ms = column(s, 13).value_or(0);
  r.time_to_heal_ms = column(s, 14);
  r.recover_within_ms = column(s, 15);
  r.heal_within_ms = column(s, 16);
  return r;
}

// ALTER TABLE runs ADD COLUMN `definition` unless the column is there already.
Result<void> add_missing_column(sqlite3* db, const std::string& definition) {
  const std::string name = definition.substr(0, definition.find(' '));
  {
    Statement s(db, "SELECT name FROM pragma_table_info('runs')");
    if (!s) return fail(sqlite3_errmsg(db));
    while (sqlite3_step(s.get()) == SQLITE_ROW)
      if (text(s.get(), 0) == name) return {};
  }  // finalized before the table changes
  char* error = nullptr;
  if (sqlite3_exec(db, ("ALTER TABLE runs ADD COLUMN " + definition).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    return fail(message);
  }
  return {};
}

}  // namespace

std::string History::default_path() {
  return default_history_path(geteuid() == 0, std::getenv("REBOUND_HISTORY"), std::getenv("XDG_STATE_HOME"),
                              std::getenv("HOME"));
}

std::string default_history_path(bool root, const char* history, const char* xdg_state_home, const char* home) {
  if (history && *history) return history;
  if (root) return "/var/lib/rebound/history.sqlite";
  // The XDG base directory spec ignores a relative XDG_STATE_HOME.
  if (xdg_state_home && xdg_state_home[0] == '/') return std::string(xdg_state_home) + "/rebound/history.sqlite";
  return std::string(home && *home ? home : ".") + "/.local/state/rebound/history.sqlite";
}

Result<std::unique_ptr<History>> History::open(const std::string& path) {
  std::error_code ec;
  if (auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent, ec);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail(fmt::format("cannot open the history database {}: {}", path, error));
  }
  sqlite3_busy_timeout(db, 5000);  // scheduled suites may record at the same time
  const char* schema =
      "CREATE TABLE IF NOT EXISTS runs ("
      " id INTEGER PRIMARY KEY AUTOINCREMENT, experiment TEXT NOT NULL, started_at TEXT NOT NULL,"
      " verdict TEXT NOT NULL, status TEXT NOT NULL, host TEXT, journal TEXT, time_to_recover_ms REAL,"
      " time_to_impact_ms REAL, error_ratio REAL, p50_ms REAL, p95_ms REAL, p99_ms REAL, duration_ms REAL,"
      " time_to_heal_ms REAL, recover_within_ms REAL, heal_within_ms REAL);"
      "CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment, id);"
      "CREATE TABLE IF NOT EXISTS schedule_state (suite TEXT PRIMARY KEY, last_due INTEGER NOT NULL);";
  // In one immediate transaction: rebounds of one user share the history, and two that create or upgrade it at
  // once would otherwise both hold a read lock and want the write lock (SQLITE_BUSY at once, no busy wait).
  auto exec = [db](const char* sql) -> Result<void> {
    char* error = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &error) == SQLITE_OK) return {};
    std::string message = error ? error : "?";
    sqlite3_free(error);
    return fail(message);
  };
  // A database made before time to heal (or the SLO) was recorded gains its columns; its old rows have none.
  Result<void> prepared = exec("BEGIN IMMEDIATE");
  if (prepared) prepared = exec(schema);
  if (prepared) prepared = add_missing_column(db, "time_to_heal_ms REAL");
  if (prepared) prepared = add_missing_column(db, "recover_within_ms REAL");
  if (prepared) prepared = add_missing_column(db, "heal_within_ms REAL");
  if (prepared) prepared = exec("COMMIT");
  if (!prepared) {
    sqlite3_close(db);  // an open transaction is rolled back
    return fail(fmt::format("cannot prepare the history database {}: {}", path, prepared.error().message));
  }
  return std::unique_ptr<History>(new History(db));
}

History::~History() { sqlite3_close(db_); }

Result<int64_t> History::record(const nlohmann::json& j, const std::string& journal_path) {
  Statement s(db_,
              "INSERT INTO runs (experiment, started_at, verdict, status, host, journal, time_to_recover_ms, "
              "time_to_impact_ms, error_ratio, p50_ms, p95_ms, p99_ms, duration_ms, time_to_heal_ms, recover_within_ms, "
              "heal_within_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!s) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const auto& m = j["metrics"];
  nlohmann::json impact = m.contains("phases") && m["phases"].contains("impact") ? m["phases"]["impact"] : nlohmann::json::object();
  s.bind(1, j["experiment"].value("name", ""));
  s.bind(2, j.value("started_at", ""));
  s.bind(3, j.value("verdict", ""));
  s.bind(4, j.value("status", ""));
  s.bind(5, std::string(host));
  s.bind(6, journal_path);
  s.bind(7, opt(m, "time_to_recover_ms"));
  s.bind(8, opt(m, "time_to_impact_ms"));
  s.bind(9, opt(impact, "error_ratio"));
  s.bind(10, opt(impact, "p50_ms"));
  s.bind(11, opt(impact, "p95_ms"));
  s.bind(12, opt(impact, "p99_ms"));
  s.bind(13, opt(j, "duration_ms"));
  s.bind(14, opt(m, "time_to_heal_ms"));
  const nlohmann::json slo = j["experiment"].value("slo", nlohmann::json::object());
  s.bind(15, opt(slo, "recover_within_ms"));
  s.bind(16, opt(slo, "heal_within_ms"));
  if (sqlite3_step(s.get()) != SQLITE_DONE) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::optional<int64_t>> History::last_due(const std::string& suite) {
  Statement s(db_, "SELECT last_due FROM schedule_state WHERE suite = ?");
  if (!s) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  s.bind(1, suite);
  if (sqlite3_step(s.get()) == SQLITE_ROW) return std::optional<int64_t>(sqlite3_column_int64(s.get(), 0));
  return std::optional<int64_t>();
}

Result<void> History::set_last_due(const std::string& suite, int64_t due) {
  Statement s(db_, "INSERT INTO schedule_state (suite, last_due) VALUES (?, ?) "
                   "ON CONFLICT(suite) DO UPDATE SET last_due = excluded.last_due");
  if (!s) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  s.bind(1, suite);
  s.bind(2, due);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  return {};
}

Result<std::vector<HistoryRow>> History::runs(const std::string& experiment, int limit) {
  std::string sql = fmt::format("SELECT {} FROM runs {} ORDER BY id DESC LIMIT ?", kColumns,
                                experiment.empty() ? "" : "WHERE experiment = ?");
  Statement s(db_, sql.c_str());
  if (!s) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  int i = 1;
  if (!experiment.empty()) s.bind(i++, experiment);
  s.bind(i, static_cast<int64_t>(limit));
  std::vector<HistoryRow> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_row(s.get()));
  return out;
}

Result<std::optional<HistoryRow>> History::baseline(const std::string& experiment, const std::string& which) {
  std::string sql;
  if (which == "last") sql = fmt::format("SELECT {} FROM runs WHERE experiment = ? ORDER BY id DESC LIMIT 1", kColumns);
  else sql = fmt::format("SELECT {} FROM runs WHERE experiment = ? AND id = ?", kColumns);
  Statement s(db_, sql.c_str());
  if (!s) return fail(fmt::format("history: {}", sqlite3_errmsg(db_)));
  s.bind(1, experiment);
  if (which != "last") {
    try {
      s.bind(2, static_cast<int64_t>(std::stoll(which)));
    } catch (...) {
      return fail(fmt::format("--baseline takes \"last\" or a run id from `rebound history`, not '{}'", which));
    }
  }
  if (sqlite3_step(s.get()) == SQLITE_ROW) return std::optional<HistoryRow>(read_row(s.get()));
  return std::optional<HistoryRow>();
}

}  // namespace rebound
