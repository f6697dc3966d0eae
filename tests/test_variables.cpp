// Parameters (${var.NAME} from --var, --var-file and [variables]; ${env.NAME}, masked in reports) and values a
// command captures for later commands (${step.NAME.key}): issue 16, "Parameters and step outputs".
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "experiments/loader.hpp"
#include "helpers.hpp"

namespace fs = std::filesystem;
using test::only_error;
using test::run_rebound;

namespace {

// Lines 1-6: a name and a command probe; what a test adds starts on line 7.
std::string experiment(const std::string& extra) {
  return "name = \"t\"\n[[probes]]\nname = \"ok\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n" +
         extra;
}

rebound::LoadResult load(const std::string& text, std::map<std::string, std::string> vars = {}) {
  rebound::LoadOptions options{"/opt/rebound"};
  options.vars = std::move(vars);
  return rebound::load_experiment_text(text, "exp.toml", options);
}

const std::string kHttpProbe = "name = \"t\"\n[[probes]]\nname = \"web\"\ntype = \"http\"\nurl = \"${var.url}/health\"\n";

}  // namespace

// ---- ${var.NAME} and ${env.NAME} ----

TEST_CASE("variables: --var sets ${var.NAME} in any string, over the file's [variables] default", "[unit][variables]") {
  auto with_default = kHttpProbe + "[variables]\nurl = \"http://127.0.0.1:8080\"\n";
  auto r = load(with_default);
  REQUIRE(r.experiment);
  CHECK(r.experiment->probes[0].probe->describe()["url"] == "http://127.0.0.1:8080/health");
  auto given = load(with_default, {{"url", "http://127.0.0.1:9090"}});
  REQUIRE(given.experiment);
  CHECK(given.experiment->probes[0].probe->describe()["url"] == "http://127.0.0.1:9090/health");
  CHECK(given.experiment->variables.at("url") == "http://127.0.0.1:9090");
}

TEST_CASE("message: a ${var.NAME} that nothing sets", "[unit][variables][messages]") {
  CHECK(only_error(kHttpProbe) ==
        "exp.toml:5:7: error: probes[0].url: ${var.url} is not set: run with --var url=VALUE or a --var-file, or "
        "give a default in [variables] (url = \"...\")");
}

TEST_CASE("message: a ${env.NAME} that is not in the environment", "[unit][variables][messages]") {
  ::unsetenv("REBOUND_TEST_UNSET");
  CHECK(only_error(experiment("[[setup]]\nargv = [\"curl\", \"${env.REBOUND_TEST_UNSET}\"]\n")) ==
        "exp.toml:8:17: error: setup[0].argv[1]: ${env.REBOUND_TEST_UNSET}: the environment variable "
        "REBOUND_TEST_UNSET is not set; export it before running rebound");
}

TEST_CASE("message: [variables] that is not a table, a bad name, a bad value", "[unit][variables][messages]") {
  CHECK(only_error("name = \"t\"\nvariables = 3\n" + experiment("").substr(11)) ==
        "exp.toml:2:13: error: variables: [variables] must be a table of NAME = \"default value\"");
  CHECK(only_error(experiment("[variables]\n\"a b\" = \"x\"\n")) ==
        "exp.toml:8:9: error: variables.a b: a variable name uses letters, digits, '_' and '-'");
  CHECK(only_error(experiment("[variables]\nports = [1, 2]\n")) ==
        "exp.toml:8:9: error: variables.ports: a default is a string, an integer or a bool (it replaces "
        "${var.ports} in strings)");
}

// ---- capture and ${step.NAME.key} ----

TEST_CASE("message: a capture used before the step that captures it", "[unit][variables][messages]") {
  CHECK(only_error(experiment("[[setup]]\nargv = [\"echo\", \"${step.later.addr}\"]\n"
                              "[[setup]]\nname = \"later\"\nargv = [\"echo\", \"addr=1\"]\ncapture = { addr = "
                              "\"addr=(\\\\S+)\" }\n")) ==
        "exp.toml:8:8: error: setup[0].argv: ${step.later.addr} is not captured before this command: an earlier "
        "[[setup]] or command step named as in step.NAME.key needs capture = { key = \"regex\" } (captured before "
        "here: none)");
}

TEST_CASE("message: a captured value outside a command", "[unit][variables][messages]") {
  CHECK(only_error("name = \"t\"\n[[setup]]\nname = \"find\"\nargv = [\"echo\", \"port=80\"]\ncapture = { port = "
                   "\"port=(\\\\d+)\" }\n[[probes]]\nname = \"web\"\ntype = \"http\"\nurl = "
                   "\"http://127.0.0.1:${step.find.port}/\"\n") ==
        "exp.toml:9:7: error: probes[0].url: ${step.find.port} is a value captured while the experiment runs: it "
        "can be used only in a command's argv, env or cwd");
}

TEST_CASE("message: capture without a name, without one group, not a string, in the background",
          "[unit][variables][messages]") {
  CHECK(only_error(experiment("[[setup]]\nargv = [\"echo\"]\ncapture = { a = \"(x)\" }\n")) ==
        "exp.toml:9:11: error: setup[0].capture: a command that captures needs a name, which later commands use as "
        "${step.NAME.key}: add name = \"...\"");
  CHECK(only_error(experiment("[[setup]]\nname = \"s\"\nargv = [\"echo\"]\ncapture = { a = \"x\" }\n")) ==
        "exp.toml:10:11: error: setup[0].capture: capture.a has 0 groups: put exactly one (...) around the value to "
        "keep");
  CHECK(only_error(experiment("[[setup]]\nname = \"s\"\nargv = [\"echo\"]\ncapture = { a = 1 }\n")) ==
        "exp.toml:10:11: error: setup[0].capture: capture.a must be a string: a regex with one group, e.g. "
        "'pid=(\\d+)'");
  CHECK(only_error(experiment("[[setup]]\nname = \"s\"\nargv = [\"echo\"]\ncapture = { a = \"(x\" }\n")) ==
        "exp.toml:10:11: error: setup[0].capture: capture.a: invalid regular expression (RE2 syntax): missing ): (x");
  CHECK(only_error(experiment("[[setup]]\nname = \"s\"\nargv = [\"sleep\", \"9\"]\nbackground = true\n"
                              "capture = { a = \"(x)\" }\n")) ==
        "exp.toml:11:11: error: setup[0].capture: a background command's output goes to its log, not to rebound: "
        "capture needs a foreground command (drop background = true, or capture in a separate step)");
}

// ---- as a user runs it ----

TEST_CASE("variables: --var and --var-file reach the run, and a bad --var is refused", "[integration][variables]") {
  test::TempDir dir;
  auto marker = dir.path() + "/out";
  auto file = dir.write("x.toml", experiment("[variables]\nwho = \"default\"\nwhat = \"default\"\n"
                                             "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"note\"\n"
                                             "type = \"command\"\nargv = [\"/bin/sh\", \"-c\", \"echo ${var.who} "
                                             "${var.what} > " +
                                             marker + "\"]\n"));
  auto vars = dir.write("vars.toml", "who = \"from-file\"\nwhat = \"from-file\"\n");
  auto r = run_rebound({"run", file, "--var-file", vars, "--var", "what=from-flag", "--report-dir", dir.path() + "/r",
                        "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(test::read_text(marker) == "from-file from-flag\n");
  CHECK(test::read_json(dir.path() + "/r/t/journal.json")["experiment"]["variables"]["what"] == "from-flag");

  auto bad = run_rebound({"run", file, "--var", "no-equals-sign", "--report-dir", dir.path() + "/r2"});
  CHECK(bad.exit_code == 4);
  CHECK(bad.err.find("error: --var no-equals-sign: expected NAME=VALUE, with a NAME of letters, digits, '_' and '-'") !=
        std::string::npos);
  auto bad_file = dir.write("bad.toml", "\"a b\" = \"x\"\nlist = [1]\n");
  auto v = run_rebound({"validate", file, "--var-file", bad_file});
  CHECK(v.exit_code == 4);
  CHECK(v.err.find(bad_file + ":1:9: error: a b: a variable name uses letters, digits, '_' and '-'") != std::string::npos);
  CHECK(v.err.find(bad_file + ":2:8: error: list: a variable's value is a string, an integer or a bool, e.g. url = "
                              "\"http://127.0.0.1:8080\"") != std::string::npos);
}

TEST_CASE("variables: a value from ${env.NAME} is masked in the journal, the summary and the JUnit file",
          "[integration][variables]") {
  test::TempDir dir;
  ::setenv("REBOUND_TEST_TOKEN", "tok-5f3a9c-secret", 1);
  auto file = dir.write("x.toml", "name = \"t\"\n[[probes]]\nname = \"auth\"\ntype = \"command\"\nargv = "
                                  "[\"/bin/sh\", \"-c\", \"test x${env.REBOUND_TEST_TOKEN} = xtok-5f3a9c-secret || "
                                  "{ echo bad token ${env.REBOUND_TEST_TOKEN}; exit 1; }\"]\ninterval = \"100ms\"\n"
                                  "[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"w\"\ntype = \"wait\"\n"
                                  "duration = \"100ms\"\n");
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  ::unsetenv("REBOUND_TEST_TOKEN");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);  // the probe saw the real value
  for (const char* name : {"/r/t/journal.json", "/r/t/summary.md", "/r/t/report.html", "/r/junit.xml"}) {
    auto text = test::read_text(dir.path() + name);
    INFO(name);
    CHECK(text.find("tok-5f3a9c-secret") == std::string::npos);
  }
  CHECK(test::read_text(dir.path() + "/r/t/journal.json").find("x*** = x***") != std::string::npos);
  CHECK((r.out + r.err).find("tok-5f3a9c-secret") == std::string::npos);
}

TEST_CASE("captures: a rollback restarts the process whose address an earlier step captured",
          "[integration][variables]") {
  test::TempDir dir;
  const std::string port = "18261";
  test::Child primary({test::bin("rebound-demo-service"), "--port", port});
  REQUIRE(test::wait_for([&] { return test::port_open(std::stoi(port)); }, 5000));
  auto file = dir.write(
      "x.toml",
      "name = \"t\"\n[[targets]]\nname = \"primary\"\npid = " + std::to_string(primary.pid()) +
          "\n[[probes]]\nname = \"ok\"\ntype = \"command\"\nargv = [\"/bin/true\"]\ninterval = \"100ms\"\n"
          "[steady_state]\nwindow = \"200ms\"\n"
          "[[method]]\nname = \"find-primary\"\ntype = \"command\"\n"
          "argv = [\"/bin/sh\", \"-c\", \"tr '\\\\0' ' ' < /proc/" + std::to_string(primary.pid()) + "/cmdline\"]\n"
          "capture = { port = \"--port (\\\\d+)\" }\n"
          "[[method]]\nname = \"kill-primary\"\ntype = \"process.kill\"\ntarget = \"primary\"\nstart = \"200ms\"\n"
          "[[rollbacks]]\nname = \"restart-primary\"\nshell = true\nargv = [\"setsid ${rebound_bin_dir}/rebound-demo-service "
          "--port ${step.find-primary.port} > /dev/null 2>&1 &\"]\n");
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  INFO(r.out << r.err);
  CHECK(primary.wait(2000) == -SIGKILL);
  bool restarted = test::wait_for([&] { return test::port_open(std::stoi(port)); }, 5000);
  std::system(("pkill -f 'rebound-demo-service --port " + port + "$'").c_str());
  CHECK(restarted);
  auto j = test::read_json(dir.path() + "/r/t/journal.json");
  CHECK(j["steps"][0]["detail"]["captured"]["port"] == port);
  CHECK(j["experiment"]["rollbacks"][0]["argv"][0].get<std::string>().find("${step.find-primary.port}") !=
        std::string::npos);
}

TEST_CASE("captures: a pattern that does not match the output fails its step", "[integration][variables]") {
  test::TempDir dir;
  auto file = dir.write("x.toml", experiment("[steady_state]\nwindow = \"200ms\"\n[[method]]\nname = \"find\"\n"
                                             "type = \"command\"\nargv = [\"echo\", \"no leader yet\"]\n"
                                             "capture = { leader = \"leader=(\\\\S+)\" }\n"));
  auto r = run_rebound({"run", file, "--report-dir", dir.path() + "/r", "--state-dir", dir.path() + "/state"});
  CHECK(r.exit_code == 4);
  auto j = test::read_json(dir.path() + "/r/t/journal.json");
  CHECK(j["steps"][0]["status"] == "error");
  CHECK(j["steps"][0]["error"] ==
        "exit 0; capture.leader: /leader=(\\S+)/ did not match the output (first line: no leader yet)");
}
