// Reports carry user text and probe output: it must never break JUnit XML or the Markdown tables.
#include <catch2/catch.hpp>

#include "experiments/loader.hpp"
#include "reports/journal.hpp"
#include "reports/junit.hpp"
#include "reports/markdown.hpp"

using namespace rebound;

namespace {
RunResult failed_result() {
  RunResult r;
  r.verdict = Verdict::failed;
  r.status = "completed";
  r.started_at = "2026-01-01T00:00:00.000Z";
  r.duration_ms = 1234;
  r.criteria.push_back({"recover_within", 2500.0, 2000, "ms", false, "probe said <script>alert(1)</script> & \x01"});
  r.criteria.push_back({"steady_state.after", 1.0, 1, "pass", true, "steady state holds"});
  r.reasons.push_back("recover_within: | broken | table");
  return r;
}
}  // namespace

TEST_CASE("JUnit escapes probe output and carries the measured value and limit", "[unit][reports]") {
  auto r = failed_result();
  auto xml = make_junit({{"exp<1>", "a&b.toml", &r, ""}});
  CHECK(xml.find("<script>") == std::string::npos);
  CHECK(xml.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#x1;") != std::string::npos);
  CHECK(xml.find("<testsuite name=\"exp&lt;1&gt;\" tests=\"2\" failures=\"1\" errors=\"0\"") != std::string::npos);
  CHECK(xml.find("message=\"measured 2500.0 ms, limit ≤ 2000 ms\"") != std::string::npos);
  CHECK(xml.find("file=\"a&amp;b.toml\"") != std::string::npos);
}

TEST_CASE("JUnit reports an invalid file as an error test case", "[unit][reports]") {
  auto xml = make_junit({{"bad", "bad.toml", nullptr, "bad.toml:3:1: error: x: unknown key"}});
  CHECK(xml.find("<testsuites name=\"rebound\" tests=\"1\" failures=\"0\" errors=\"1\"") != std::string::npos);
  CHECK(xml.find("<error type=\"invalid\" message=\"experiment file is invalid\">bad.toml:3:1: error: x: unknown "
                 "key</error>") != std::string::npos);
}

TEST_CASE("Markdown keeps user text from breaking tables or becoming markup", "[unit][reports]") {
  auto loaded = load_experiment_text("name = \"x\"\ntitle = \"<b>bold</b> | pipe\"\n[[probes]]\nname = \"p\"\ntype = "
                                     "\"tcp\"\nhost = \"h\"\nport = 1\n",
                                     "x.toml", LoadOptions{"/"});
  REQUIRE(loaded.experiment);
  auto md = make_markdown(*loaded.experiment, failed_result());
  CHECK(md.starts_with("# ❌ \\<b\\>bold\\</b\\> \\| pipe: failed\n"));
  CHECK(md.find("- recover\\_within: \\| broken \\| table") != std::string::npos);
  CHECK(md.find("| recover_within | 2500.0 ms | ≤ 2000 ms | **FAIL** |") != std::string::npos);
}

TEST_CASE("the journal records the experiment as resolved with a schema version", "[unit][reports]") {
  auto loaded = load_experiment_text("name = \"x\"\n[[probes]]\nname = \"p\"\ntype = \"tcp\"\nhost = \"h\"\nport = "
                                     "1\ninterval = \"10ms\"\n[slo]\nrecover_within = \"2s\"\n",
                                     "x.toml", LoadOptions{"/"});
  REQUIRE(loaded.experiment);
  auto j = make_journal(*loaded.experiment, failed_result());
  CHECK(j["schema_version"] == kJournalSchemaVersion);
  CHECK(j["experiment"]["probes"][0]["interval_ms"] == 10);
  CHECK(j["experiment"]["probes"][0]["parameters"]["port"] == 1);
  CHECK(j["experiment"]["slo"]["recover_within_ms"] == 2000);
  CHECK(j["experiment"]["slo"]["observe_for_ms"] == 5000);  // default: 2 x recover_within + stable_for
  CHECK(j["verdict"] == "failed");
  CHECK(j["exit_code"] == 1);
  CHECK(j["slo"][0]["value"] == 2500);
}

TEST_CASE("a step's detail reads as one line: counts, flags and short words, not paths or nested values",
          "[unit][reports]") {
  nlohmann::json detail = {{"connections", 33},
                           {"toxic_connections", 18},
                           {"created_clsact", false},
                           {"signal", "SIGKILL"},
                           {"cgroup", "/sys/fs/cgroup/unified/a-very-long-path-that-belongs-in-the-journal-only"},
                           {"moved", nlohmann::json::array({1, 2})},
                           {"ratio", 0.25}};
  CHECK(step_detail_line(detail) ==
        "connections 33, created_clsact no, ratio 0.25, signal SIGKILL, toxic_connections 18");
  CHECK(step_detail_line(nlohmann::json::object()).empty());
}
