// Commands run like a daemon manager would run them (issue 15 part 4): a real server packaged in Debian that
// daemonizes itself (dnsmasq: forks, detaches, redirects its standard descriptors) starts from [[setup]], an
// experiment against it passes, and its [[teardown]] stops it.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>

#include "helpers.hpp"
#include "system/targets.hpp"

namespace {

constexpr int kPort = 18261;

// The pid in dnsmasq's pid file, or 0.
pid_t pid_in_file(const std::string& path) {
  std::string text = test::read_text(path);
  return text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
}

}  // namespace

TEST_CASE("a server that daemonizes itself starts from setup, an experiment against it passes, teardown stops it",
          "[root][daemon]") {
  if (!test::privileged()) return;
  test::TempDir dir;
  const std::string pid_file = dir.path() + "/dnsmasq.pid";
  const std::string port = std::to_string(kPort);
  auto file = dir.write(
      "dns.toml",
      "name = \"dns\"\n"
      "[[probes]]\nname = \"answers\"\ntype = \"command\"\nargv = [\"" + test::bin("rebound-nettool") +
          "\", \"dns\", \"127.0.0.1\", \"svc.test\", \"300\", \"" + port + "\"]\n"
          "expect_stdout = \"^0\\n\"\ninterval = \"100ms\"\ntimeout = \"1s\"\n"
          "[steady_state]\nwindow = \"500ms\"\n"
          "[[setup]]\nname = \"start dnsmasq, which daemonizes itself\"\n"
          "argv = [\"/usr/sbin/dnsmasq\", \"--port=" + port + "\", \"--listen-address=127.0.0.1\", "
          "\"--bind-interfaces\", \"--no-resolv\", \"--no-hosts\", \"--address=/svc.test/10.9.8.7\", \"--pid-file=" +
          pid_file + "\"]\n"
          "[[targets]]\nname = \"dns\"\ncmdline = \"^/usr/sbin/dnsmasq --port=" + port + " \"\n"
          "[[method]]\nname = \"freeze-dns\"\ntype = \"process.stop\"\ntarget = \"dns\"\nduration = \"600ms\"\n"
          "[[teardown]]\nname = \"stop dnsmasq\"\nargv = [\"/bin/sh\", \"-c\", \"kill $(cat " + pid_file + ")\"]\n"
          "[slo]\nrecover_within = \"2s\"\nstable_for = \"300ms\"\n");
  auto r = test::run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/s"});
  INFO(r.out << r.err);
  const pid_t daemon = pid_in_file(pid_file);
  CHECK(r.exit_code == 0);
  auto j = test::read_json(dir.path() + "/r/dns/journal.json");
  CHECK(j["verdict"] == "passed");
  REQUIRE(j["commands"].size() == 2);
  CHECK(j["commands"][0]["ok"] == true);
  CHECK(j["commands"][1]["ok"] == true);
  // The daemon answered, was frozen (so queries failed) and answered again.
  CHECK(j["steps"][0]["effect"] == "stopped 1 of 1 processes (state T)");
  CHECK(j["steps"][0]["processes"][0]["pid"] == daemon);
  CHECK(j["metrics"]["time_to_recover_ms"].is_number());
  CHECK(j["metrics"]["phases"]["fault"]["failures"].get<int>() > 0);
  // Teardown stopped it: nothing is left listening.
  REQUIRE(daemon > 0);
  CHECK(test::wait_for([&] { char s = rebound::process_state(daemon); return s == 0 || s == 'Z'; }, 5000));
  if (rebound::process_state(daemon) != 0) kill(daemon, SIGKILL);
}
