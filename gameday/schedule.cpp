#include "gameday/schedule.hpp"

#include <fmt/format.h>
#include <functional>

namespace rebound {

namespace {
// A stable pseudo-random offset for a window: the same window gets the same start after a restart.
int64_t window_offset_seconds(const std::string& seed, std::time_t opens, Millis within) {
  const int64_t span = std::max<int64_t>(1, static_cast<int64_t>(within.count() / 1000));
  uint64_t h = std::hash<std::string>{}(seed + "@" + std::to_string(opens));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<int64_t>(h % static_cast<uint64_t>(span));
}
}  // namespace

std::string format_local(std::time_t t, const std::string& zone) {
  std::tm tm = local_time(t, zone);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{} {}", text, zone);
}

std::optional<std::time_t> Schedule::blackout_at(std::time_t t) const {
  std::optional<std::time_t> end;
  for (const auto& b : blackouts) {
    const auto length = static_cast<std::time_t>(b.duration.count() / 1000);
    // The latest start at or before t: the first one after (t - length - 1).
    auto start = b.starts.next_after(t - length - 1);
    while (start && *start <= t) {
      if (t < *start + length) end = std::max(end.value_or(0), *start + length);
      start = b.starts.next_after(*start);
    }
  }
  return end;
}

std::optional<std::time_t> Schedule::next_due(std::time_t after, int* skipped) const {
  std::time_t from = after;
  for (int guard = 0; guard < 100000; ++guard) {
    std::optional<std::time_t> best;
    for (const auto& c : cron)
      if (auto t = c.next_after(from)) best = std::min(best.value_or(*t), *t);
    for (const auto& w : random) {
      const auto span = static_cast<std::time_t>(w.within.count() / 1000);
      // A window that opened before `from` may still hold its start ahead.
      for (auto opens = w.opens.next_after(from - span - 1); opens && *opens <= from + span * 2 + 86400 * 400;
           opens = w.opens.next_after(*opens)) {
        std::time_t t = *opens + window_offset_seconds(seed, *opens, w.within);
        if (t > from) {
          best = std::min(best.value_or(t), t);
          break;
        }
      }
    }
    if (!best) return std::nullopt;
    if (!blackout_at(*best)) return best;
    if (skipped) ++*skipped;
    from = *best;
  }
  return std::nullopt;
}

int Schedule::missed(std::time_t last_due, std::time_t now) const {
  int n = 0;
  for (auto t = next_due(last_due); t && *t <= now && n < 100000; t = next_due(*t)) ++n;
  return n;
}

std::string systemd_timer_lines(const Schedule& s) {
  std::string out;
  for (const auto& c : s.cron)
    for (const auto& line : c.on_calendar()) out += fmt::format("OnCalendar={}\n", line);
  int64_t delay = 0;
  for (const auto& w : s.random) {
    for (const auto& line : w.opens.on_calendar()) out += fmt::format("OnCalendar={}\n", line);
    delay = std::max<int64_t>(delay, w.within.count() / 1000);
  }
  if (delay > 0) {
    if (!s.cron.empty() || s.random.size() > 1)
      out += "# One timer has one random delay: it applies to every OnCalendar line above.\n";
    out += fmt::format("RandomizedDelaySec={}\n", delay);
  }
  if (s.run_missed_once) out += "Persistent=true\n";
  if (!s.blackouts.empty())
    out += "# Blackout windows cannot be expressed in a timer: use `rebound schedule` to honour them.\n";
  return out;
}

namespace {

// Reads key = [{ cron = "...", <length_key> = "..." }, ...] and calls add for each valid window; false when an
// entry had an error.
bool parse_windows(TableReader& r, const std::string& key, const char* length_key, const std::string& zone,
                   const std::function<void(const CronExpression&, Millis)>& add) {
  bool ok = true;
  const toml::array* a = r.array(key);
  for (size_t i = 0; a && i < a->size(); ++i) {
    const toml::table* t = (*a)[i].as_table();
    if (!t) {
      r.error(key, fmt::format("each entry is a table such as {{ cron = \"0 9 * * 1-5\", {} = \"8h\" }}", length_key));
      ok = false;
      continue;
    }
    TableReader w(*t, r.key_path(key) + fmt::format("[{}]", i), r.diagnostics());
    auto text = w.string("cron", true);
    auto length = w.duration(length_key, true);
    w.finish();
    if (!text || !length) {
      ok = false;
      continue;
    }
    auto c = CronExpression::parse(*text, zone);
    if (!c) {
      w.error("cron", c.error().message);
      ok = false;
      continue;
    }
    add(*c, *length);
  }
  return ok;
}

}  // namespace

std::optional<Schedule> parse_schedule(TableReader& r, const std::string& suite_name) {
  Schedule s;
  s.seed = suite_name;
  bool ok = true;
  auto zone = r.string("timezone", true);
  if (!zone) return std::nullopt;
  if (!valid_time_zone(*zone)) {
    r.error("timezone", fmt::format("unknown time zone '{}': use a name from /usr/share/zoneinfo such as \"UTC\" or "
                                    "\"Europe/Berlin\"",
                                    *zone));
    return std::nullopt;
  }
  s.time_zone = *zone;
  for (const auto& text : r.strings("cron").value_or(std::vector<std::string>{})) {
    auto c = CronExpression::parse(text, s.time_zone);
    if (!c) {
      r.error("cron", c.error().message);
      ok = false;
      continue;
    }
    s.cron.push_back(*c);
  }
  if (!parse_windows(r, "random", "within", s.time_zone,
                     [&](const CronExpression& c, Millis m) { s.random.push_back({c, m}); }))
    ok = false;
  if (!parse_windows(r, "blackout", "duration", s.time_zone,
                     [&](const CronExpression& c, Millis m) { s.blackouts.push_back({c, m}); }))
    ok = false;
  std::string missed = r.string("missed").value_or("skip");
  if (missed == "run_once") s.run_missed_once = true;
  else if (missed != "skip") {
    r.error("missed", fmt::format("'{}': use \"skip\" or \"run_once\"", missed));
    ok = false;
  }
  if (ok && s.cron.empty() && s.random.empty()) {
    r.error("cron", "a schedule needs cron = [\"...\"] or random = [{ cron = \"...\", within = \"...\" }]");
    ok = false;
  }
  r.finish();
  if (!ok) return std::nullopt;
  return s;
}

}  // namespace rebound
