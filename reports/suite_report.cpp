#include "reports/suite_report.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fmt/format.h>

#include "reports/html.hpp"
#include "reports/suite_charts.hpp"

namespace rebound {

namespace {
std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f} ms", *v) : "–"; }

// A statistic of the time to recover: missing because it falls on a trial that never recovered, or no trials.
std::string stat(const std::optional<double>& v, const TrialStats& s) {
  if (v) return ms(v);
  return s.recovered < s.measured ? "never recovered" : "–";
}

// The distribution-free confidence interval of the median time to recover, with the confidence it actually has:
// "312.0 to 420.5 ms, 97% confidence"; with fewer than 6 measured trials it cannot reach 95% and says so.
std::string interval(const TrialStats& s) {
  if (!s.median_low) return s.recovered < s.measured ? "unbounded: too many trials never recovered" : "–";
  if (s.median_coverage < 0.5)
    return fmt::format("too few trials for an interval ({} measured; 95% confidence needs at least 6)", s.measured);
  std::string range = fmt::format("{:.1f} to {} ms", *s.median_low,
                                  s.median_high ? fmt::format("{:.1f}", *s.median_high) : "unbounded");
  if (s.median_coverage + 1e-9 >= 0.95) return fmt::format("{}, {:.0f}% confidence", range, s.median_coverage * 100);
  return fmt::format("{}, only {:.0f}% confidence (95% needs 6 trials)", range, s.median_coverage * 100);
}

constexpr const char* kIntervalHead = "true median lies in (confidence)";
constexpr const char* kIntervalNote =
    "\"true median lies in\": the range that holds the median time to recover of this experiment, as more trials "
    "would find it, with the confidence shown (an order-statistic interval; it assumes nothing about the "
    "distribution).";

std::string duration_text(double ms) {
  const double s = ms / 1000;
  if (s < 120) return fmt::format("{:.1f} s", s);
  return fmt::format("{} min {:.0f} s", static_cast<int64_t>(s / 60), std::fmod(s, 60));
}

}  // namespace

std::string suite_when_and_where(const SuiteOutcome& o) {
  if (o.started_unix_ms == 0) return "";
  const std::time_t secs = static_cast<std::time_t>(o.started_unix_ms / 1000);
  std::tm local{};
  localtime_r(&secs, &local);
  char text[80];
  // The zone's name, and its offset unless the zone is UTC itself: "CET (UTC+0100)", "UTC".
  const std::string zone = local.tm_gmtoff == 0 && std::string(local.tm_zone ? local.tm_zone : "") == "UTC"
                               ? "%Y-%m-%d %H:%M:%S %Z"
                               : "%Y-%m-%d %H:%M:%S %Z (UTC%z)";
  std::strftime(text, sizeof text, zone.c_str(), &local);
  return fmt::format("ran on {} · started {} · took {}", o.host.empty() ? "an unnamed host" : o.host, text,
                     duration_text(o.duration_ms));
}

std::string make_suite_markdown(const Suite& suite, const SuiteOutcome& o) {
  std::string out = fmt::format("# {}: {}\n\n- suite `{}` ({}), exit code {}\n- pass_if: {}\n", suite.title,
                                to_string(o.verdict), suite.name, suite.file, exit_code(o.verdict),
                                suite.pass_share ? fmt::format("{:.0f}% of trials", *suite.pass_share * 100) : "all trials");
  if (auto when = suite_when_and_where(o); !when.empty()) out += "- " + when + "\n";
  if (o.stopped_early) out += "- stopped early: on_failure = \"stop\"\n";
  out += fmt::format("\n| experiment | group | verdict | trials passed | recovered | min | median | {} | p95 | max |\n"
                     "|---|---|---|---|---|---|---|---|---|---|\n",
                     kIntervalHead);
  for (const auto& e : o.entries)
    out += fmt::format("| {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} |\n", e.experiment, e.group,
                       to_string(e.verdict), e.stats.passed, e.stats.trials, e.stats.recovered, stat(e.stats.min, e.stats),
                       stat(e.stats.median, e.stats), interval(e.stats), stat(e.stats.p95, e.stats),
                       stat(e.stats.max, e.stats));
  std::string notes;
  for (const auto& e : o.entries)
    if (!e.stats.note.empty()) notes += fmt::format("- {}: {}\n", e.experiment, e.stats.note);
  if (!notes.empty()) out += "\n" + notes;
  out += fmt::format("\n{}\n", kIntervalNote);
  out += "\n## Trials\n\n| experiment | trial | verdict | time to recover | report |\n|---|---|---|---|---|\n";
  for (const auto& t : o.trials)
    out += fmt::format("| {} | {} | {} | {} | {}/summary.md |\n", t.experiment, t.trial, to_string(t.result.verdict),
                       ms(t.result.metrics.time_to_recover_ms), t.dir);
  return out;
}

namespace {

// The page's head and style, the title and the verdict.
std::string suite_html_header(const Suite& suite, const SuiteOutcome& o) {
  const std::string v = to_string(o.verdict);
  const char* color = o.verdict == Verdict::passed ? "#1a7f37" : o.verdict == Verdict::failed ? "#cf222e" : "#8250df";
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}: {}</title><style>"
      "body{{font:14px/1.45 sans-serif;color:#1f2328;max-width:1100px;margin:24px auto;padding:0 16px}}"
      "h1{{font-size:22px}}h2{{font-size:16px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}}"
      "table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:5px 8px;border-bottom:1px solid #d8dee4}}"
      "th{{background:#f6f8fa}}td.num{{text-align:right;white-space:nowrap}}.verdict{{color:#fff;border-radius:6px;"
      "padding:2px 10px;font-weight:600;text-transform:uppercase}}svg{{width:100%;height:auto;border:1px solid #d0d7de;"
      "border-radius:6px}}svg text{{font:11px sans-serif;fill:#57606a}}.meta{{color:#57606a}}p.note{{font-size:12px;"
      "color:#57606a}}svg text.slo-label{{fill:#cf222e;font-weight:600}}svg text.bar-value{{font-size:10px;fill:#1f2328}}"
      "@media print{{body{{margin:0;max-width:none}}svg,table{{break-inside:avoid}}}}</style></head><body>\n",
      html_escape(suite.title), v);
  out += fmt::format("<h1>{}</h1>\n<p><span id=\"verdict\" class=\"verdict\" style=\"background:{}\">{}</span> exit code "
                     "{} · pass_if {}{}</p>\n",
                     html_escape(suite.title), color, v, exit_code(o.verdict),
                     suite.pass_share ? fmt::format("{:.0f}% of trials", *suite.pass_share * 100) : "all trials",
                     o.stopped_early ? " · stopped early" : "");
  if (auto when = suite_when_and_where(o); !when.empty())
    out += fmt::format("<p id=\"when\" class=\"meta\">{}</p>\n", html_escape(when));
  return out;
}

std::string suite_html_experiments(const SuiteOutcome& o) {
  std::string out = "<h2>Experiments</h2>\n<table id=\"experiments\"><tr><th>experiment</th><th>group</th><th>verdict</th>"
         "<th>trials passed</th><th>median</th><th>" + std::string(kIntervalHead) +
         "</th><th>p95</th><th>max</th><th>why</th></tr>\n";
  for (const auto& e : o.entries)
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}/{}</td><td class=\"num\">"
                       "{}</td><td class=\"interval\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                       html_escape(e.experiment), html_escape(e.group), to_string(e.verdict), e.stats.passed,
                       e.stats.trials, stat(e.stats.median, e.stats), interval(e.stats), stat(e.stats.p95, e.stats),
                       stat(e.stats.max, e.stats),
                       html_escape(e.reason));
  out += fmt::format("</table>\n<p class=\"note\">{}</p>\n", html_escape(kIntervalNote));
  return out;
}

// Trend from the history: each experiment's runs, oldest first, against its recover_within.
std::string suite_html_trend(const Suite& suite, const std::map<std::string, std::vector<HistoryRow>>& trend) {
  const auto slos = suite_slos(suite);
  std::string out = "<h2>Trend from history</h2>\n<table id=\"trend\"><tr><th>experiment</th><th>runs</th><th>time to "
                    "recover per run (bar values in ms; dashed: the SLO)</th></tr>\n";
  for (const auto& [name, rows] : trend) {
    auto found = slos.find(name);
    const auto slo = found == slos.end() ? std::nullopt : found->second;
    out += fmt::format("<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}<p class=\"trend-test\">{}</p></td>"
                       "</tr>\n",
                       html_escape(name), rows.size(), suite_trend_svg(rows, slo), html_escape(suite_trend_text(rows, slo)));
  }
  out += "</table>\n";
  return out;
}

std::string suite_html_trials(const SuiteOutcome& o) {
  std::string out = "<h2>Trials</h2>\n<table id=\"trials\"><tr><th>experiment</th><th>trial</th><th>verdict</th>"
         "<th>time to recover</th><th>report</th></tr>\n";
  for (const auto& t : o.trials)
    out += fmt::format("<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td><a "
                       "href=\"{}/trial-{}/report.html\">report</a></td></tr>\n",
                       html_escape(t.experiment), t.trial, to_string(t.result.verdict),
                       ms(t.result.metrics.time_to_recover_ms), html_escape(t.experiment), t.trial);
  out += "</table>\n";
  return out;
}

}  // namespace

std::string make_suite_html(const Suite& suite, const SuiteOutcome& o,
                            const std::map<std::string, std::vector<HistoryRow>>& trend) {
  std::string out = suite_html_header(suite, o);
  out += suite_html_experiments(o);
  out += "<h2>Time to recover, per trial</h2>\n" + suite_distribution_svg(o, suite_slos(suite));
  out += suite_html_trend(suite, trend);
  out += suite_html_trials(o);
  out += "</body></html>\n";
  return out;
}

}  // namespace rebound
