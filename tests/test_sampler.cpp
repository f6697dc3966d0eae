// A probe that throws is a failed sample, never the end of rebound (issue 17 item 15).
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>

#include "experiments/runner.hpp"
#include "helpers.hpp"
#include "experiments/sampler.hpp"

namespace {
struct ThrowingProbe : rebound::Probe {
  rebound::SampleResult sample() override { throw std::runtime_error("Too many open files"); }
  nlohmann::json describe() const override { return {{"type", "throwing"}}; }
};

rebound::ProbeDecl throwing_decl() {
  return rebound::ProbeDecl{"boom", "throwing", rebound::Millis(20), rebound::Millis(100),
                            std::make_shared<ThrowingProbe>()};
}
}  // namespace

TEST_CASE("sampler: a probe that throws gives failed samples with the exception's message", "[unit][probes]") {
  auto decl = throwing_decl();
  rebound::Sampler sampler(decl, std::chrono::steady_clock::now());
  sampler.start();
  REQUIRE(test::wait_for([&] { return sampler.size() >= 3; }, 5000));
  sampler.stop();
  auto series = sampler.snapshot();
  CHECK(sampler.failures() == series.samples.size());
  for (const auto& s : series.samples) {
    CHECK_FALSE(s.ok);
    CHECK(s.reason == "the probe failed: Too many open files");
  }
}

TEST_CASE("sampler: an experiment whose probe throws runs to its end", "[unit][probes]") {
  test::TempDir dir;
  rebound::Experiment ex;
  ex.name = "throwing-probe";
  ex.probes.push_back(throwing_decl());
  ex.steady_state.probes = {"boom"};
  ex.steady_state.window = rebound::Millis(200);
  rebound::RunOptions options;
  options.output_dir = dir.path();
  options.state_dir = dir.path() + "/state";
  auto result = rebound::run_experiment(ex, options);
  CHECK(result.status == "completed");
  CHECK(result.verdict != rebound::Verdict::passed);  // the baseline cannot hold with a failing probe
  REQUIRE(result.probes.size() == 1);
  REQUIRE_FALSE(result.probes[0].samples.empty());
  CHECK(result.probes[0].samples[0].reason == "the probe failed: Too many open files");
}
