// One test per validation message of an experiment file that had none (issue 10 item 6): each shows the text a
// user sees, with the file, line, column and key. scripts/check-messages.py (CTest "validation messages have
// tests") fails when a message in the source has no test that shows its text.
#include <catch2/catch.hpp>

#include "config/user_regex.hpp"
#include "helpers.hpp"

using test::errors_for;
using test::only_error;

namespace {

// A target (lines 2-4) and an HTTP probe (lines 5-8); what a test adds starts on line 9.
std::string experiment(const std::string& extra) {
  return "name = \"t\"\n"
         "[[targets]]\nname = \"svc\"\npid = 1\n"
         "[[probes]]\nname = \"health\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n" +
         extra;
}

// A step whose keys start on line 11 ([[method]] is on line 9).
std::string step(const std::string& keys) {
  return experiment("[[method]]\nduration = \"5s\"\n" + keys);
}

}  // namespace

// ---- the experiment's tables ----

TEST_CASE("message: an entry of an array of tables that is not a table", "[unit][validation][messages]") {
  CHECK(only_error("name = \"t\"\ntargets = [1]\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n") ==
        "exp.toml:2:12: error: targets[0]: expected a table, got integer 1");
}

TEST_CASE("message: max_targets below 1", "[unit][validation][messages]") {
  CHECK(only_error("name = \"t\"\n[[targets]]\nname = \"svc\"\nexe = \"nginx\"\nmax_targets = 0\n"
                   "[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n") ==
        "exp.toml:5:15: error: targets[0].max_targets: max_targets must be at least 1");
}

TEST_CASE("message: a probe timeout of zero", "[unit][validation][messages]") {
  CHECK(only_error("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\ntimeout = \"0s\"\n") ==
        "exp.toml:7:11: error: probes[0].timeout: a timeout must be longer than zero");
}

TEST_CASE("message: a guard with min_samples 0", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[guards]]\nprobe = \"health\"\nmin_samples = 0\n")) ==
        "exp.toml:11:15: error: guards[0].min_samples: min_samples must be at least 1");
}

TEST_CASE("message: a negative max_recovery_regression", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[slo]\nmax_recovery_regression = -0.5\n")) ==
        "exp.toml:10:27: error: slo.max_recovery_regression: use a share such as 0.2 for 20% slower than the baseline");
}

TEST_CASE("message: an environment variable that is not a string", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[setup]]\nargv = [\"true\"]\nenv = { PORT = 8080 }\n")) ==
        "exp.toml:11:7: error: setup[0].env: environment variable PORT must be a string");
}

TEST_CASE("message: a regular expression too complex for the memory limit", "[unit][validation][messages]") {
  // Short (under the 4096-character limit) but its compiled form is far beyond 4 MiB.
  const std::string pattern = "\\\\pL{1000}\\\\pL{1000}\\\\pL{1000}";
  CHECK(only_error("name = \"t\"\n[[targets]]\nname = \"svc\"\ncmdline = \"" + pattern + "\"\n"
                   "[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n") ==
        "exp.toml:4:11: error: targets[0].cmdline: the pattern is too complex (its compiled form exceeds the memory "
        "limit); simplify it");
}

// ---- probes ----

TEST_CASE("message: an HTTP header that is not a string", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[probes]]\nname = \"h2\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
                              "headers = { X-Retries = 3 }\n")) ==
        "exp.toml:13:11: error: probes[1].headers: header X-Retries must be a string");
}

TEST_CASE("message: an expected HTTP status that is not a status code", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[probes]]\nname = \"h2\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
                              "expect_status = [200, 700]\n")) ==
        "exp.toml:13:17: error: probes[1].expect_status: 700 is not an HTTP status code (100-599)");
}

TEST_CASE("message: a TCP probe port out of range", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[probes]]\nname = \"t2\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 70000\n")) ==
        "exp.toml:13:8: error: probes[1].port: 70000 is not a TCP port (1-65535)");
}

TEST_CASE("message: allow_no_effect on a step that is not a fault", "[unit][validation][messages]") {
  CHECK(only_error(step("type = \"wait\"\nallow_no_effect = true\n")) ==
        "exp.toml:12:19: error: method[0].allow_no_effect: wait is not a fault, so it has no effect to check; remove "
        "allow_no_effect");
}

// ---- network steps ----

TEST_CASE("message: refuse without a target", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"network.refuse\"\n")) ==
        "exp.toml:9:1: error: method[0].target: missing required key: this fault acts on a target's cgroup; add "
        "target = \"...\"");
}

TEST_CASE("message: more peers or ports than a step holds", "[unit][validation][messages][network]") {
  std::string peers, ports;
  for (int i = 1; i <= 17; ++i) {
    peers += "\"10.0.0." + std::to_string(i) + "\", ";
    ports += std::to_string(1000 + i) + ", ";
  }
  CHECK(only_error(step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 0.1\npeers = [" + peers + "]\n")) ==
        "exp.toml:14:9: error: method[0].peers: at most 16 peers per step");
  CHECK(only_error(step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 0.1\nports = [" + ports + "]\n")) ==
        "exp.toml:14:9: error: method[0].ports: at most 16 ports per step");
}

TEST_CASE("message: a port out of range in a network step", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 0.1\nports = [80, 0]\n")) ==
        "exp.toml:14:9: error: method[0].ports: 0 is not a port (1-65535)");
}

TEST_CASE("message: a bandwidth burst that is not a size", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"network.bandwidth\"\ntarget = \"svc\"\nrate = \"1mbit\"\nburst = \"lots\"\n")) ==
        "exp.toml:14:9: error: method[0].burst: 'lots' is not a size such as \"128kB\"");
}

TEST_CASE("message: a bandwidth rate or burst beyond the token bucket", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"network.bandwidth\"\ntarget = \"svc\"\nrate = \"200gbit\"\n")) ==
        "exp.toml:13:8: error: method[0].rate: above the limit of 100gbit (12.5GB per second) that the token bucket "
        "can count");
  CHECK(only_error(step("type = \"network.bandwidth\"\ntarget = \"svc\"\nrate = \"1mbit\"\nburst = \"2GB\"\n")) ==
        "exp.toml:14:9: error: method[0].burst: above the limit of 1GiB that the token bucket can count");
}

TEST_CASE("message: a DNS answer that does not exist", "[unit][validation][messages][network]") {
  CHECK(only_error(step("type = \"dns.fail\"\ntarget = \"svc\"\ndomain = \"example.com\"\nanswer = \"refused\"\n")) ==
        "exp.toml:14:10: error: method[0].answer: 'refused' is not an answer: use \"nxdomain\", \"servfail\" or "
        "\"timeout\"");
}

TEST_CASE("message: an empty list of toxics", "[unit][validation][messages][proxy]") {
  CHECK(only_error(step("type = \"tcp.toxic\"\ntarget = \"svc\"\ntoxics = []\n")) ==
        "exp.toml:13:10: error: method[0].toxics: the list is empty: add at least one { toxic = \"...\" }");
}

// ---- values of the wrong type (TableReader) ----

TEST_CASE("message: a string key given another type", "[unit][validation][messages]") {
  CHECK(only_error("name = \"t\"\ntitle = 5\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n") ==
        "exp.toml:2:9: error: title: expected a string, got integer 5");
}

TEST_CASE("message: a number given a string", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[guards]]\nprobe = \"health\"\nmax_failure_ratio = \"high\"\n")) ==
        "exp.toml:11:21: error: guards[0].max_failure_ratio: expected a number, got string 'high'");
}

TEST_CASE("message: a boolean given a string", "[unit][validation][messages]") {
  CHECK(only_error("name = \"t\"\n[[targets]]\nname = \"svc\"\npid = 1\nallow_init = \"yes\"\n"
                   "[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\n") ==
        "exp.toml:5:14: error: targets[0].allow_init: expected true or false, got string 'yes'");
}

TEST_CASE("message: a duration given a boolean", "[unit][validation][messages]") {
  CHECK(only_error("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"::1\"\nport = 1\ntimeout = true\n") ==
        "exp.toml:7:11: error: probes[0].timeout: expected a duration string such as \"250ms\" or \"5s\", got boolean "
        "true");
}

TEST_CASE("message: an array of strings given a string or holding a number", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[setup]]\nargv = \"true\"\n")) ==
        "exp.toml:10:8: error: setup[0].argv: expected an array of strings, got string 'true'");
  CHECK(only_error(experiment("[[setup]]\nargv = [\"sleep\", 1]\n")) ==
        "exp.toml:10:8: error: setup[0].argv: expected an array of strings, got integer 1");
}

TEST_CASE("message: an array of integers given a string or holding one", "[unit][validation][messages]") {
  CHECK(only_error(experiment("[[probes]]\nname = \"h2\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
                              "expect_status = \"200\"\n")) ==
        "exp.toml:13:17: error: probes[1].expect_status: expected an array of integers, got string '200'");
  CHECK(only_error(experiment("[[probes]]\nname = \"h2\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
                              "expect_status = [200, \"204\"]\n")) ==
        "exp.toml:13:17: error: probes[1].expect_status: expected an array of integers, got string '204'");
}

// ---- heal_within (issue 15 item 1) ----

TEST_CASE("message: heal_within of zero", "[unit][validation][messages][heal]") {
  CHECK(only_error(experiment("[slo]\nheal_within = \"0s\"\n")) ==
        "exp.toml:10:15: error: slo.heal_within: heal_within must be longer than zero, e.g. \"3s\"");
}

TEST_CASE("message: heal_within without a unit or with a wrong one names the key", "[unit][validation][messages][heal]") {
  CHECK(only_error(experiment("[slo]\nheal_within = 3\n")) ==
        "exp.toml:10:15: error: slo.heal_within: a duration needs a unit: write \"3s\" or \"3ms\" (units: us, ms, s, m, "
        "h)");
  CHECK(only_error(experiment("[slo]\nheal_within = \"3 parsecs\"\n")).rfind("exp.toml:10:15: error: slo.heal_within: "
                                                                             "'3 parsecs' is not a duration",
                                                                             0) == 0);
}

TEST_CASE("message: heal_within with every lasting fault shorter than stable_for", "[unit][validation][messages][heal]") {
  CHECK(only_error(experiment("[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\ntarget = \"svc\"\n"
                              "duration = \"500ms\"\n[slo]\nheal_within = \"3s\"\n")) ==
        "exp.toml:15:15: error: slo.heal_within: heal_within cannot be met: the longest lasting fault lasts 500ms, "
        "shorter than stable_for (1s), and healing must hold for stable_for while the fault is applied; make the "
        "fault last at least heal_within + stable_for (4s)");
}

TEST_CASE("heal_within with an instant fault or a long enough lasting one is valid", "[unit][validation][heal]") {
  CHECK(errors_for(experiment("[[method]]\nname = \"kill\"\ntype = \"process.kill\"\ntarget = \"svc\"\n"
                              "[slo]\nheal_within = \"3s\"\n"))
            .empty());
  CHECK(errors_for(experiment("[[method]]\nname = \"freeze\"\ntype = \"process.stop\"\ntarget = \"svc\"\n"
                              "duration = \"5s\"\n[slo]\nheal_within = \"3s\"\n"))
            .empty());
}
