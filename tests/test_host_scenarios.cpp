// The shipped host scenarios run as a user runs them, each with its verdict and the effect its fault had.
// (scenarios/host/memory-stress.toml is run by test_memory_stress.cpp.)
#include <catch2/catch.hpp>
#include <filesystem>
#include <sys/mount.h>

#include "helpers.hpp"

namespace {

nlohmann::json run_scenario(const test::TempDir& reports, const std::string& name,
                            const std::vector<std::string>& more = {}) {
  std::vector<std::string> args = {"run", test::source("scenarios/host/" + name + ".toml"), "--report-dir",
                                   reports.path(), "--state-dir", reports.path() + "/state"};
  args.insert(args.end(), more.begin(), more.end());
  auto r = test::run_rebound(args);
  INFO(r.out << r.err);
  CHECK((r.exit_code == 0 || r.exit_code == 1));  // a verdict, not an error
  return test::read_json(reports.path() + "/host-" + name + "/journal.json");
}

}  // namespace

TEST_CASE("host scenarios: cpu-stress loads the service's CPUs and judges its health checks",
          "[integration][root][cpu]") {
  if (!test::privileged()) return;
  test::TempDir reports;
  auto j = run_scenario(reports, "cpu-stress");
  auto detail = j["steps"][0]["detail"];
  INFO(detail.dump(2));
  CHECK(detail["stressor_cpu_s"].get<double>() > 2.0);  // two workers for 3 s, on a shared machine
  CHECK(j["exit_code"] == 0);
}

TEST_CASE("host scenarios: io-stress writes to the disk while timed commits stay under their bound",
          "[integration][root][io]") {
  if (!test::privileged()) return;
  test::TempDir reports;
  auto j = run_scenario(reports, "io-stress", {"--var", "io_path=" + reports.path()});
  auto detail = j["steps"][0]["detail"];
  INFO(detail.dump(2));
  CHECK(detail["written_bytes"].get<double>() >= 128.0 * 1024 * 1024);
  CHECK(j["exit_code"] == 0);
}

TEST_CASE("host scenarios: disk-fill makes 1 MiB writes fail and they succeed again after",
          "[integration][root][disk]") {
  if (!test::privileged()) return;
  test::TempDir reports;
  const std::string mount = reports.path() + "/fill";
  std::filesystem::create_directories(mount);
  REQUIRE(::mount("rebound-fill", mount.c_str(), "tmpfs", 0, "size=64m") == 0);
  auto j = run_scenario(reports, "disk-fill", {"--var", "fill_path=" + mount});
  ::umount2(mount.c_str(), MNT_DETACH);
  INFO(j["metrics"].dump(2));
  CHECK(j["verdict"] == "passed");
  REQUIRE(j["metrics"]["time_to_impact_ms"].is_number());  // the writes failed once the disk was full
  CHECK(j["metrics"]["time_to_impact_ms"].get<double>() < 500);
  CHECK(j["metrics"]["time_to_recover_ms"].get<double>() < 1000);
}
