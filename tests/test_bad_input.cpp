// Bad input gets a clear error, never a crash, a hang or a wrong fault (issue 9): user regexes in RE2,
// bounded files and nesting, finite numbers, bounded durations, pids that cannot wrap to init.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiments/loader.hpp"
#include "gameday/suite.hpp"
#include "system/target_guard.hpp"
#include "system/targets.hpp"
#include "config/user_regex.hpp"
#include "helpers.hpp"
#include "probes/registry.hpp"

namespace fs = std::filesystem;
using namespace rebound;
using test::errors_for;
using test::only_error;

namespace {

const char* kProbe = R"(
[[probes]]
name = "health"
type = "http"
url = "http://127.0.0.1:1/"
)";


std::string file_error(const std::string& path) {
  auto r = load_experiment(path, LoadOptions{"/opt/rebound"});
  REQUIRE_FALSE(r.experiment);
  REQUIRE(r.diagnostics.items().size() == 1);
  return r.diagnostics.items()[0].format();
}

std::shared_ptr<Probe> make_probe(const std::string& body) {
  auto r = load_experiment_text("name = \"p\"\n[[probes]]\nname = \"p\"\n" + body, "p.toml", LoadOptions{"/"});
  INFO(r.diagnostics.format_all());
  REQUIRE(r.experiment);
  return r.experiment->probes.at(0).probe;
}

std::string nested_groups(int depth) { return std::string(depth, '(') + "a" + std::string(depth, ')'); }

std::string with_target(const std::string& target) {
  return "name = \"t\"\n[[targets]]\nname = \"svc\"\n" + target + "\n" + kProbe;
}

std::string with_probe(const std::string& extra) { return std::string("name = \"t\"\n") + kProbe + extra; }

}  // namespace

// ---- user regexes: RE2, linear time, bounded ----

TEST_CASE("bad input: expect_body '^{.*}$' (escaped) against a 43 KB one-line body matches without a crash",
          "[unit][bad-input][probes]") {
  std::string body = "{";
  while (body.size() < 43 * 1024) body += "\"key\": \"value\", ";
  body += "\"end\": 1}";
  test::HttpServer server(200, body);
  auto p = make_probe("type = \"http\"\nurl = \"" + server.url() + "\"\nexpect_body = \"^\\\\{.*\\\\}$\"\n");
  auto s = p->sample();
  INFO(s.reason);
  CHECK(s.ok);
  auto miss = make_probe("type = \"http\"\nurl = \"" + server.url() + "\"\nexpect_body = \"^\\\\[.*\\\\]$\"\n");
  CHECK(miss->sample().reason == "status 200, body does not match /^\\[.*\\]$/");
}

TEST_CASE("bad input: expect_stdout ^a*$ against 300 KB of output matches without a crash",
          "[unit][bad-input][probes]") {
  auto p = make_probe(
      "type = \"command\"\nshell = true\nargv = [\"head -c 300000 /dev/zero | tr '\\\\000' a\"]\n"
      "expect_stdout = \"^a*$\"\n");
  auto s = p->sample();
  INFO(s.reason);
  CHECK(s.ok);
}

TEST_CASE("bad input: a pattern of 20,000 nested groups is refused with its length", "[unit][bad-input][validation]") {
  const std::string deep = nested_groups(20'000);
  CHECK(only_error(with_target("cmdline = \"" + deep + "\"")) ==
        "exp.toml:4:11: error: targets[0].cmdline: the pattern is 40001 characters long; patterns are limited to "
        "4096 characters");
  CHECK(only_error(with_probe("[[probes]]\nname = \"c\"\ntype = \"command\"\nargv = [\"true\"]\nexpect_stdout = \"" +
                              deep + "\"\n")) ==
        "exp.toml:11:17: error: probes[1].expect_stdout: the pattern is 40001 characters long; patterns are limited "
        "to 4096 characters");
  CHECK(only_error(with_probe("[[probes]]\nname = \"b\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\n"
                              "expect_body = \"" + deep + "\"\n")) ==
        "exp.toml:11:15: error: probes[1].expect_body: the pattern is 40001 characters long; patterns are limited to "
        "4096 characters");
}

TEST_CASE("bad input: deeply nested groups within the length limit give a result or a clear error",
          "[unit][bad-input]") {
  auto re = UserRegex::compile(nested_groups(2000));
  if (re) {
    CHECK(re->search("xa"));
  } else {
    CHECK(re.error().message.starts_with("invalid regular expression (RE2 syntax): "));
  }
  auto big = UserRegex::compile("((a{1000}){1000}){1000}");
  REQUIRE_FALSE(big);
  CHECK(big.error().message.starts_with("invalid regular expression (RE2 syntax): "));
}

TEST_CASE("bad input: patterns use RE2 syntax (no backreferences or lookahead)", "[unit][bad-input][validation]") {
  CHECK(only_error(with_target("cmdline = \"(a)\\\\1\"")) ==
        "exp.toml:4:11: error: targets[0].cmdline: invalid regular expression (RE2 syntax): invalid escape sequence: "
        "\\1");
  CHECK(only_error(with_probe("[[probes]]\nname = \"c\"\ntype = \"command\"\nargv = [\"true\"]\n"
                              "expect_stdout = \"a(?=b)\"\n")) ==
        "exp.toml:11:17: error: probes[1].expect_stdout: invalid regular expression (RE2 syntax): invalid perl "
        "operator: (?=");
}

// ---- crashes ----

TEST_CASE("bad input: an experiment name of 30,000 characters is a clipped error", "[unit][bad-input][validation]") {
  const std::string name(30'000, 'x');
  CHECK(only_error("name = \"" + name + "\"\n" + kProbe) ==
        "exp.toml:1:8: error: name: '" + std::string(60, 'x') +
            "… (30000 characters)' cannot name a report folder: use letters, digits, '.', '_' and '-', at most 200 "
            "characters");
}

TEST_CASE("bad input: dotted keys, table headers, arrays and inline tables nested 45,000 deep",
          "[unit][bad-input][validation]") {
  std::string dotted, header = "[", arrays = "x = ", inline_tables = "x = ";
  for (int i = 0; i < 45'000; ++i) {
    dotted += "a.";
    header += "a.";
    arrays += "[";
    inline_tables += "{a=";
  }
  const std::string message =
      "error: TOML syntax: nested deeper than 100 levels (tables, arrays, inline tables and the parts of dotted keys "
      "each count one); flatten the file";
  CHECK(only_error(dotted + "b = 1\n") == "exp.toml:1:202: " + message);
  CHECK(only_error("name = \"t\"\n" + header + "b]\n") == "exp.toml:2:201: " + message);
  CHECK(only_error(arrays + "\n") == "exp.toml:1:105: " + message);
  CHECK(only_error(inline_tables + "\n") == "exp.toml:1:305: " + message);
  // Ordinary nesting, dots in strings, floats and comments are not counted.
  CHECK(errors_for(std::string("name = \"t\" # a.b.c.d\n") + kProbe +
                   "[[probes]]\nname = \"d.e.f\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 1\n"
                   "interval = \"1.5s\"\n")
            .empty());
}

// ---- hangs ----

TEST_CASE("bad input: a FIFO, a device and a directory are refused without blocking", "[unit][bad-input]") {
  test::TempDir dir;
  const std::string fifo = dir.path() + "/exp.toml";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(file_error(fifo) == fifo +
                                ":0:0: error: file: this is a FIFO (named pipe): rebound reads experiments and suites "
                                "from regular files only");
  CHECK(file_error("/dev/zero") ==
        "/dev/zero:0:0: error: file: this is a character device: rebound reads experiments and suites from regular "
        "files only");
  CHECK(file_error(dir.path()) ==
        dir.path() + ":0:0: error: file: this is a directory, not a file: give the path of a .toml file in it");
  // And through the command line, which first looks whether the file is a suite.
  auto r = test::run_rebound({"validate", fifo}, 20'000);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("this is a FIFO (named pipe)") != std::string::npos);
}

TEST_CASE("bad input: a file over 1 MiB is refused with its size", "[unit][bad-input]") {
  test::TempDir dir;
  const std::string path = dir.write("big.toml", std::string(2 << 20, 'k') + " = 1\n");
  CHECK(file_error(path) == path +
                                ":0:0: error: file: the file is 2097157 bytes; experiment and suite files are "
                                "limited to 1 MiB (1048576 bytes)");
}

TEST_CASE("bad input: a long unknown key is clipped in the message", "[unit][bad-input][validation]") {
  const std::string key(900'000, 'k');
  auto e = only_error(std::string("name = \"t\"\n") + key + " = 1\n" + kProbe);
  CHECK(e.size() < 1000);
  CHECK(e.starts_with("exp.toml:2:1: error: " + std::string(200, 'k') + "… (900000 characters): unknown key"));
}

TEST_CASE("bad input: a suite that lists itself, and a FIFO as a suite entry", "[unit][bad-input][suite]") {
  test::TempDir dir;
  REQUIRE(mkfifo((dir.path() + "/pipe.toml").c_str(), 0600) == 0);
  const std::string suite = dir.write("suite.toml", "name = \"s\"\n[[groups]]\nname = \"g\"\n"
                                                    "[[groups.experiments]]\nfile = \"suite.toml\"\n"
                                                    "[[groups.experiments]]\nfile = \"pipe.toml\"\n");
  auto loaded = load_suite(suite, LoadOptions{"/"});
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.format_all() ==
        suite + ":5:8: error: groups[0].experiments[0].file: 'suite.toml' is this suite itself; a suite lists "
                "experiment files\n" +
            dir.path() + "/pipe.toml:0:0: error: file: this is a FIFO (named pipe): rebound reads experiments and "
                         "suites from regular files only\n");
}

TEST_CASE("bad input: a suite's repeat beyond 10000", "[unit][bad-input][suite]") {
  test::TempDir dir;
  dir.write("e.toml", std::string("name = \"e\"\n") + kProbe);
  const std::string suite = dir.write(
      "suite.toml", "[[groups]]\n[[groups.experiments]]\nfile = \"e.toml\"\nrepeat = 4294967297\n");
  auto loaded = load_suite(suite, LoadOptions{"/"});
  CHECK(loaded.format_all() ==
        suite + ":4:10: error: groups[0].experiments[0].repeat: repeat must be from 1 to 10000, got 4294967297\n");
}

// ---- wrong faults ----

TEST_CASE("bad input: a pid outside 1..pid_max", "[unit][bad-input][validation]") {
  const std::string range = fmt::format("pids run from 1 to {} (/proc/sys/kernel/pid_max)", pid_max());
  CHECK(only_error(with_target("pid = 4294967297")) ==
        "exp.toml:4:7: error: targets[0].pid: 4294967297 is not a process id: " + range);
  CHECK(only_error(with_target("pid = 0")) == "exp.toml:4:7: error: targets[0].pid: 0 is not a process id: " + range);
  CHECK(only_error(with_target("pid = -1")) == "exp.toml:4:7: error: targets[0].pid: -1 is not a process id: " + range);
}

TEST_CASE("bad input: pid 1 and rebound's own processes are refused at resolution", "[unit][bad-input][targets]") {
  TargetSpec init{.name = "init", .kind = TargetKind::pid, .value = "1"};
  auto refused = resolve_target(init);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "target 'init': pid 1 is init: a fault there stops the whole system; set allow_init = true on the target if "
        "you mean it");
  init.allow_init = true;
  auto allowed = resolve_target(init);
  INFO((allowed ? "" : allowed.error().message));
  CHECK(allowed);

  TargetSpec self{.name = "self", .kind = TargetKind::pid, .value = std::to_string(getpid())};
  self.allow_init = true;  // never enough for rebound itself
  CHECK(resolve_target(self).error().message == fmt::format("target 'self': pid {} is rebound itself", getpid()));
  TargetSpec parent{.name = "parent", .kind = TargetKind::pid, .value = std::to_string(getppid())};
  CHECK(resolve_target(parent).error().message ==
        fmt::format("target 'parent': pid {} started rebound (one of its parent processes); rebound never acts on "
                    "those",
                    getppid()));

  test::TempDir dir;
  TargetSpec pidfile{.name = "pf", .kind = TargetKind::pidfile, .value = dir.write("x.pid", "4294967297\n")};
  CHECK(resolve_target(pidfile).error().message ==
        fmt::format("target 'pf': pidfile {} holds 4294967297, which is not a process id: pids run from 1 to {} "
                    "(/proc/sys/kernel/pid_max)",
                    pidfile.value, pid_max()));

  // A broad pattern skips init unless allowed.
  auto comm = test::read_text("/proc/1/cmdline");
  comm = comm.substr(0, comm.find('\0'));
  REQUIRE_FALSE(comm.empty());
  std::string quoted;
  for (char c : comm) quoted += std::string(std::isalnum(static_cast<unsigned char>(c)) ? "" : "\\") + c;
  TargetSpec broad{.name = "broad", .kind = TargetKind::cmdline, .value = "^" + quoted};
  broad.max_targets = 100000;
  auto matched = match_target(broad);
  REQUIRE(matched);
  for (const auto& p : *matched) CHECK(p.pid != 1);
  broad.allow_init = true;
  auto with_init = match_target(broad);
  REQUIRE(with_init);
  CHECK(std::any_of(with_init->begin(), with_init->end(), [](const auto& p) { return p.pid == 1; }));
}

TEST_CASE("bad input: allow_init is a target key", "[unit][bad-input][validation]") {
  auto r = load_experiment_text(with_target("pid = 1\nallow_init = true"), "exp.toml", LoadOptions{"/"});
  INFO(r.diagnostics.format_all());
  REQUIRE(r.experiment);
  CHECK(r.experiment->targets.at(0).allow_init);
}

TEST_CASE("bad input: nan and infinities are errors wherever a number is read", "[unit][bad-input][validation]") {
  CHECK(only_error(with_probe("[steady_state]\nmin_success_ratio = nan\n")) ==
        "exp.toml:8:21: error: steady_state.min_success_ratio: expected a finite number, got nan; nan and inf are not "
        "allowed");
  CHECK(only_error(with_probe("[slo]\nmax_error_ratio = -inf\n")) ==
        "exp.toml:8:19: error: slo.max_error_ratio: expected a finite number, got -inf; nan and inf are not allowed");
  CHECK(only_error(with_target("pid = 3") +
                   "[[method]]\ntype = \"network.loss\"\ntarget = \"svc\"\nduration = \"1s\"\nprobability = nan\n") ==
        "exp.toml:14:15: error: method[0].probability: expected a finite number, got nan; nan and inf are not "
        "allowed");
}

TEST_CASE("bad input: durations beyond 30 days", "[unit][bad-input][validation]") {
  const std::string limit = "is longer than the limit of 30 days (\"720h\"); use a shorter duration";
  CHECK(only_error(with_probe("[steady_state]\nwindow = \"999999999999h\"\n")) ==
        "exp.toml:8:10: error: steady_state.window: '999999999999h' " + limit);
  CHECK(only_error(with_probe("[slo]\nrecover_within = \"99999999999999999999999ms\"\n")) ==
        "exp.toml:8:18: error: slo.recover_within: '99999999999999999999999ms' " + limit);
  CHECK(only_error(with_probe("[slo]\nstable_for = \"" + std::string(400, '9') + "s\"\n")) ==
        "exp.toml:8:14: error: slo.stable_for: '" + std::string(60, '9') + "… (401 characters)' " + limit);
  CHECK(only_error(with_probe("[slo]\nstable_for = \"721h\"\n")) == "exp.toml:8:14: error: slo.stable_for: '721h' " +
                                                                        limit);
  CHECK(errors_for(with_probe("[slo]\nstable_for = \"720h\"\n")).empty());
  // Conversions to clock durations never wrap.
  CHECK(to_clock_duration<std::chrono::nanoseconds>(Millis(1e30)).count() > 0);
  CHECK(to_clock_duration<std::chrono::nanoseconds>(Millis(-5)).count() == 0);
}

TEST_CASE("bad input: a zero window", "[unit][bad-input][validation]") {
  CHECK(only_error(with_probe("[steady_state]\nwindow = \"0s\"\n")) ==
        "exp.toml:8:10: error: steady_state.window: the steady-state window must be longer than zero, e.g. \"2s\"");
  CHECK(only_error(with_probe("[[guards]]\nprobe = \"health\"\nwindow = \"0ms\"\n")) ==
        "exp.toml:9:10: error: guards[0].window: a guard's window must be longer than zero, e.g. \"1s\"");
}

// ---- inputs the fuzzer found ----

TEST_CASE("bad input: every fuzzer regression loads to a clear error without a crash", "[unit][bad-input][fuzz]") {
  const fs::path dir = test::source("tests/fuzz-regressions");
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().filename() == "README.md") continue;
    ++files;
    INFO(entry.path());
    auto r = load_experiment(entry.path().string(), LoadOptions{"/"});
    CHECK((r.experiment || !r.diagnostics.empty()));
    auto s = load_suite(entry.path().string(), LoadOptions{"/"});
    CHECK((s.ok() || !s.format_all().empty()));
  }
  CHECK(files > 0);
}

TEST_CASE("bad input: a misspelt [[probes]] table: the unknown key, the cause, comes before its follow-on errors",
          "[unit][bad-input]") {
  test::TempDir dir;
  auto file = dir.write("exp.toml", "name = \"x\"\n[[probe]]\nname = \"ok\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
                                    "[steady_state]\nprobes = [\"ok\"]\n[[method]]\ntype = \"wait\"\nduration = \"1s\"\n");
  auto r = test::run_rebound({"validate", file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK(r.err.starts_with(file + ":2:3: error: probe: unknown key; did you mean 'probes'?\n"));
  CHECK(r.err.find("no [[probes]]") != std::string::npos);  // the follow-on errors are still there, after it
}
