// A load probe's journal and reports (issue 14): ten minutes at 2,000 requests/s are 60,000 bucket rows, streamed
// into journal.json rather than built as a tree in memory, and `rebound report` draws the same lane from them.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "experiments/loader.hpp"
#include "experiments/slo.hpp"
#include "helpers.hpp"
#include "reports/html.hpp"
#include "reports/journal.hpp"
#include "reports/report_writer.hpp"

using namespace rebound;

namespace {

Experiment users_experiment() {
  auto r = load_experiment_text("name = \"ten-minutes\"\n[[probes]]\nname = \"users\"\ntype = \"load\"\n"
                                "rate = \"2000/s\"\nurl = \"http://127.0.0.1:1/\"\n",
                                "exp.toml", LoadOptions{"/opt/rebound"});
  for (const auto& d : r.diagnostics.items()) INFO(d.format());
  REQUIRE(r.experiment);
  return std::move(*r.experiment);
}

// Ten minutes of 10 ms buckets of 20 requests, their latencies spread over 20 bins; from 300 s to 305 s half of
// each bucket's requests fail after 400 ms.
RunResult ten_minutes() {
  RunResult r;
  r.verdict = Verdict::passed;
  r.duration_ms = 600'000;
  ProbeSeries s;
  s.name = "users";
  s.samples.reserve(60'000);
  std::vector<uint32_t> bins;
  for (int i = 0; i < 60'000; ++i) {
    const double t = i * 10.0;
    const bool bad = t >= 300'000 && t < 305'000;
    bins.clear();
    for (int k = 0; k < 20; ++k) bins.push_back(latency_bins::index_of(0.1 + 0.013 * k + (bad && k % 2 ? 400 : 0)));
    Sample b{t, t + 10.5, !bad, bad ? 400.4 : 0.36, bad ? "status 503" : "ok"};
    b.requests = std::make_shared<const RequestCounts>(
        RequestCounts{20, bad ? 10u : 0u, SparseHistogram::from_bins(bins)});
    s.samples.push_back(std::move(b));
  }
  r.probes.push_back(std::move(s));
  return r;
}

long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::string(key).size()));
  return -1;
}

// The SVG group of one probe's lane in an HTML report.
std::string lane_of(const std::string& html, const std::string& probe) {
  const auto from = html.find("<g class=\"probe-lane\" data-probe=\"" + probe + "\">");
  const auto to = html.find("</g>", from);
  return from == std::string::npos || to == std::string::npos ? "" : html.substr(from, to - from);
}

}  // namespace

TEST_CASE("load journal: ten minutes of buckets are written row by row, in a few MiB of memory", "[unit][load]") {
  const auto ex = users_experiment();
  const auto r = ten_minutes();
  test::TempDir dir;
  const auto journal = make_journal(ex, r);
  // The peak RSS from here on: Linux resets VmHWM to the current RSS on "5" to clear_refs.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const long before = status_kib("VmRSS:");
  REQUIRE(status_kib("VmHWM:") - before < 1024);
  REQUIRE(write_experiment_reports(ex, r, journal, dir.path()));
  const long grown = status_kib("VmHWM:") - before;
  WARN("writing journal.json, report.html and summary.md for 60,000 buckets raised the peak RSS by " << grown
                                                                                                      << " KiB");
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine and pads every allocation: RSS says nothing here.
#else
  CHECK(grown < 8 * 1024);  // the journal as one tree and one string took over 25 MiB
#endif

  auto j = test::read_json(dir.path() + "/journal.json");
  const auto& p = j["probes"][0];
  CHECK(p["bucket_columns"] == nlohmann::json({"t_ms", "end_ms", "requests", "failed", "max_latency_ms", "p50_ms",
                                               "p99_ms", "first_failure"}));
  REQUIRE(p["buckets"].size() == 60'000);
  uint64_t requests = 0, failed = 0;
  for (const auto& row : p["buckets"]) {
    requests += row[2].get<uint64_t>();
    failed += row[3].get<uint64_t>();
  }
  CHECK(requests == 1'200'000);
  CHECK(failed == 5'000);
  const auto& bad = p["buckets"][30'000];
  CHECK(bad[0] == 300'000.0);
  CHECK(bad[4] == 400.4);
  CHECK(bad[5].get<double>() == Approx(0.334).margin(0.002));  // p50: the slowest of the fast half
  CHECK(bad[6].get<double>() == Approx(400.2).epsilon(0.004));
  CHECK(bad[7] == "status 503");
  CHECK(p["buckets"][0][7] == "");
  // Everything else is the tree make_journal built.
  j["probes"][0]["buckets"] = nullptr;
  CHECK(j == journal);
}

TEST_CASE("load journal: rebound report draws the lane the run drew, from the journal's rows", "[unit][load]") {
  const auto ex = users_experiment();
  const auto r = ten_minutes();
  test::TempDir dir;
  REQUIRE(write_experiment_reports(ex, r, make_journal(ex, r), dir.path()));
  const auto at_run = lane_of(test::read_text(dir.path() + "/report.html"), "users");
  const auto from_journal = lane_of(make_html(test::read_json(dir.path() + "/journal.json")), "users");
  CHECK(at_run.find("class=\"latency-band\"") != std::string::npos);
  CHECK(at_run.find("class=\"error-ratio\"") != std::string::npos);
  CHECK(from_journal == at_run);
}

TEST_CASE("load journal: the lane's labels stay left of the plot", "[unit][load]") {
  const auto ex = users_experiment();
  const auto r = ten_minutes();
  const auto lane = lane_of(make_html(make_journal(ex, r), &r.probes), "users");
  // The plot starts at x = 150; at 11 px a label of more than about 24 characters ran into it.
  size_t labels = 0;
  for (size_t at = lane.find("class=\"lane-scale\">"); at != std::string::npos;
       at = lane.find("class=\"lane-scale\">", at + 1)) {
    const auto text_from = lane.find('>', at) + 1;
    const auto text = lane.substr(text_from, lane.find('<', text_from) - text_from);
    INFO(text);
    CHECK(text.size() <= 26);
    ++labels;
  }
  CHECK(labels == 3);
  CHECK(lane.find(">requests/10 ms (grey)<") != std::string::npos);
  CHECK(lane.find(">error ratio (red)<") != std::string::npos);
}

TEST_CASE("load journal: a histogram bin counts past 65,535 values", "[unit][load]") {
  std::vector<uint32_t> bins(70'000, latency_bins::index_of(3));
  bins.push_back(latency_bins::index_of(900));
  const auto h = SparseHistogram::from_bins(bins);
  CHECK(h.total() == 70'001);
  CHECK(*h.percentile(99.99) == Approx(3).epsilon(0.004));
  CHECK(*h.percentile(100) == Approx(900).epsilon(0.004));
  CHECK(h.bins().size() == 3);  // 65,535 + 4,465 in the bin of 3 ms, one in that of 900 ms
}

TEST_CASE("load journal: criteria and steady-state checks count a load probe's requests as requests", "[unit][load]") {
  const auto r = ten_minutes();
  const SeriesSet set{&r.probes[0]};
  RunMetrics m;
  m.phases["impact"] = phase_stats(set, 300'000, 305'000);
  SloSpec slo;
  slo.max_error_ratio = 0.01;
  auto c = evaluate_slo(slo, m, true);
  REQUIRE(c.size() == 1);
  CHECK(c[0].detail == "5000 of 10000 requests failed from the first fault to recovery (50.00%); limit ≤ 1.00%");
  auto check = check_steady_state(set, Tolerance{}, 300'000, 305'000);
  CHECK(check.summary() ==
        "probe 'users': success 50.0% < 100.0% (5000 of 10000 requests failed, last: status 503)");
  // One-by-one samples beside them: both.
  ProbeSeries seq;
  seq.name = "seq";
  seq.samples.push_back({300'000, 300'001, false, 1, "timeout"});
  CHECK(std::string(counted(phase_stats({&r.probes[0], &seq}, 300'000, 305'000))) == "samples and requests");
  CHECK(std::string(counted(phase_stats({&seq}, 300'000, 305'000))) == "samples");
}

TEST_CASE("load journal: --dry-run gives a load probe's rate, not an interval", "[integration][load]") {
  test::TempDir dir;
  const auto file = dir.write("load.toml", "name = \"load\"\n[[probes]]\nname = \"users\"\ntype = \"load\"\n"
                                           "rate = \"2000/s\"\nurl = \"http://127.0.0.1:1/\"\n");
  auto r = test::run_rebound({"run", "--dry-run", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("users          load       2000 requests/s, timeout 1s") != std::string::npos);
  CHECK(r.out.find("every 1s") == std::string::npos);
}
