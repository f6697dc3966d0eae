#include "reports/suite_report.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "reports/html.hpp"

namespace rebound {

namespace {
std::string ms(const std::optional<double>& v) { return v ? fmt::format("{:.1f} ms", *v) : "–"; }

// A statistic of the time to recover: missing because it falls on a trial that never recovered, or no trials.
std::string stat(const std::optional<double>& v, const TrialStats& s) {
  if (v) return ms(v);
  return s.recovered < s.measured ? "never recovered" : "–";
}

std::string interval(const TrialStats& s) {
  if (!s.median_low) return s.recovered < s.measured ? "unbounded" : "–";
  return fmt::format("[{:.1f}, {}] ms ({:.0f}%)", *s.median_low, s.median_high ? fmt::format("{:.1f}", *s.median_high) : "∞",
                     s.median_coverage * 100);
}
}  // namespace

std::string make_suite_markdown(const Suite& suite, const SuiteOutcome& o) {
  std::string out = fmt::format("# {}: {}\n\n- suite `{}` ({}), exit code {}\n- pass_if: {}\n", suite.title,
                                to_string(o.verdict), suite.name, suite.file, exit_code(o.verdict),
                                suite.pass_share ? fmt::format("{:.0f}% of trials", *suite.pass_share * 100) : "all trials");
  if (o.stopped_early) out += "- stopped early: on_failure = \"stop\"\n";
  out += "\n| experiment | group | verdict | trials passed | recovered | min | median | 95% CI of median | p95 | max |\n"
         "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& e : o.entries)
    out += fmt::format("| {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} |\n", e.experiment, e.group,
                       to_string(e.verdict), e.stats.passed, e.stats.trials, e.stats.recovered, stat(e.stats.min, e.stats),
                       stat(e.stats.median, e.stats), interval(e.stats), stat(e.stats.p95, e.stats),
                       stat(e.stats.max, e.stats));
  std::string notes;
  for (const auto& e : o.entries)
    if (!e.stats.note.empty()) notes += fmt::format("- {}: {}\n", e.experiment, e.stats.note);
  if (!notes.empty()) out += "\n" + notes;
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
      "border-radius:6px}}svg text{{font:11px sans-serif;fill:#57606a}}"
      "@media print{{body{{margin:0;max-width:none}}svg,table{{break-inside:avoid}}}}</style></head><body>\n",
      html_escape(suite.title), v);
  out += fmt::format("<h1>{}</h1>\n<p><span id=\"verdict\" class=\"verdict\" style=\"background:{}\">{}</span> exit code "
                     "{} · pass_if {}{}</p>\n",
                     html_escape(suite.title), color, v, exit_code(o.verdict),
                     suite.pass_share ? fmt::format("{:.0f}% of trials", *suite.pass_share * 100) : "all trials",
                     o.stopped_early ? " · stopped early" : "");
  return out;
}

std::string suite_html_experiments(const SuiteOutcome& o) {
  std::string out = "<h2>Experiments</h2>\n<table id=\"experiments\"><tr><th>experiment</th><th>group</th><th>verdict</th>"
         "<th>trials passed</th><th>median</th><th>95% CI of median</th><th>p95</th><th>max</th><th>why</th></tr>\n";
  for (const auto& e : o.entries)
    out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}/{}</td><td class=\"num\">"
                       "{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                       html_escape(e.experiment), html_escape(e.group), to_string(e.verdict), e.stats.passed,
                       e.stats.trials, stat(e.stats.median, e.stats), interval(e.stats), stat(e.stats.p95, e.stats),
                       stat(e.stats.max, e.stats),
                       html_escape(e.reason));
  out += "</table>\n";
  return out;
}

// Time to recover per experiment: one dot per trial on a shared axis, the median as a bar.
std::string suite_html_distribution(const SuiteOutcome& o) {
  std::string out;
  double top = 1;
  for (const auto& t : o.trials) top = std::max(top, t.result.metrics.time_to_recover_ms.value_or(0));
  const double left = 220, width = 1000, row = 34;
  const double height = 30 + row * static_cast<double>(o.entries.size()) + 20;
  out += fmt::format("<h2>Time to recover, per trial</h2>\n<svg id=\"distribution\" viewBox=\"0 0 {} {}\">\n", width, height);
  auto x = [&](double t) { return left + t / top * (width - left - 30); };
  for (size_t i = 0; i < o.entries.size(); ++i) {
    const auto& e = o.entries[i];
    double y = 30 + row * static_cast<double>(i) + row / 2;
    out += fmt::format("<text x=\"8\" y=\"{:.1f}\">{}</text><line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" "
                       "stroke=\"#d0d7de\"/>\n",
                       y + 4, html_escape(e.experiment), left, width - 30, y, y);
    for (const auto& t : o.trials) {
      if (t.experiment != e.experiment) continue;
      if (auto ttr = t.result.metrics.time_to_recover_ms)
        out += fmt::format("<circle class=\"trial\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\" fill-opacity=\"0.7\">"
                           "<title>trial {}: {:.1f} ms</title></circle>\n",
                           x(*ttr), y, t.result.verdict == Verdict::passed ? "#1a7f37" : "#cf222e", t.trial, *ttr);
      else
        out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" fill=\"#cf222e\">trial {}: no recovery</text>\n", width - 140,
                           y - 6, t.trial);
    }
    if (e.stats.median)
      out += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#0969da\" "
                         "stroke-width=\"2\"><title>median {3:.1f} ms</title></line>\n",
                         x(*e.stats.median), y - 10, y + 10, *e.stats.median);
  }
  out += fmt::format("<text x=\"{}\" y=\"18\">0 ms</text><text x=\"{}\" y=\"18\" text-anchor=\"end\">{:.0f} ms</text>\n"
                     "</svg>\n",
                     left, width - 30, top);
  return out;
}

// Trend from the history: the median of each earlier run's time to recover, oldest first.
std::string suite_html_trend(const std::map<std::string, std::vector<HistoryRow>>& trend) {
  std::string out = "<h2>Trend from history</h2>\n<table id=\"trend\"><tr><th>experiment</th><th>runs</th><th>time to recover, "
         "oldest to newest</th></tr>\n";
  for (const auto& [name, rows] : trend) {
    double most = 1;
    for (const auto& r : rows) most = std::max(most, r.time_to_recover_ms.value_or(0));
    std::string bars = "<svg viewBox=\"0 0 400 40\" style=\"width:400px;border:none\">";
    double w = 400.0 / std::max<size_t>(rows.size(), 1);
    for (size_t i = 0; i < rows.size(); ++i) {
      double h = rows[i].time_to_recover_ms.value_or(0) / most * 36;
      bars += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>run {}: "
                          "{}</title></rect>",
                          w * i + 1, 38 - h, std::max(1.0, w - 2), std::max(h, 1.0),
                          rows[i].verdict == "passed" ? "#0969da" : "#cf222e", rows[i].id, ms(rows[i].time_to_recover_ms));
    }
    bars += "</svg>";
    out += fmt::format("<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>\n", html_escape(name),
                       rows.size(), bars);
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
  out += suite_html_distribution(o);
  out += suite_html_trend(trend);
  out += suite_html_trials(o);
  out += "</body></html>\n";
  return out;
}

}  // namespace rebound
