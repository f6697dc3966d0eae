// One test per validation message a user can meet, with the exact text they see.
#include <catch2/catch.hpp>

#include "experiments/loader.hpp"
#include "helpers.hpp"

using namespace rebound;
using test::errors_for;
using test::only_error;

namespace {

const char* kTarget = R"(
[[targets]]
name = "svc"
pid = 1
)";
const char* kProbe = R"(
[[probes]]
name = "health"
type = "http"
url = "http://127.0.0.1:1/"
)";


std::string with_base(const std::string& extra) { return std::string("name = \"t\"\n") + kTarget + kProbe + extra; }

}  // namespace

TEST_CASE("a valid experiment has no errors", "[unit][validation]") {
  auto e = errors_for(with_base("[[method]]\ntype = \"process.kill\"\ntarget = \"svc\"\n"));
  CHECK(e.empty());
}

TEST_CASE("validation: TOML syntax error names line and column", "[unit][validation]") {
  CHECK(only_error("name = \"t\"\ntitle = \"unterminated\n") ==
        "exp.toml:2:22: error: TOML syntax: Error while parsing string: unescaped control characters other than TAB "
        "(U+0009) are explicitly prohibited");
}

TEST_CASE("validation: unknown top-level key suggests the right one", "[unit][validation]") {
  CHECK(only_error(with_base("[[probe]]\nname = \"x\"\n")) ==
        "exp.toml:11:3: error: probe: unknown key; did you mean 'probes'?");
}

TEST_CASE("validation: unknown key inside a probe suggests the right one", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n") + kTarget +
                   "[[probes]]\nname = \"h\"\ntype = \"http\"\nurl = \"http://x/\"\nexpect_stauts = [200]\n") ==
        "exp.toml:10:1: error: probes[0].expect_stauts: unknown key; did you mean 'expect_status'?");
}

TEST_CASE("validation: a duration without a unit", "[unit][validation]") {
  CHECK(only_error(with_base("[steady_state]\nwindow = 5\n")) ==
        "exp.toml:12:10: error: steady_state.window: a duration needs a unit: write \"5s\" or \"5ms\" (units: us, ms, "
        "s, m, h)");
}

TEST_CASE("validation: a duration with an unknown unit", "[unit][validation]") {
  CHECK(only_error(with_base("[steady_state]\nwindow = \"5 sec\"\n")) ==
        "exp.toml:12:10: error: steady_state.window: '5 sec' is not a duration: write a number and a unit, such as "
        "\"250ms\", \"5s\" or \"2m\" (units: us, ms, s, m, h)");
}

TEST_CASE("validation: unknown probe type", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"htp\"\n")) ==
        "exp.toml:4:8: error: probes[0].type: unknown probe type 'htp'; did you mean 'http'? (probe types: http, tcp, "
        "command, process, load, metrics, prometheus)");
}

TEST_CASE("validation: missing required key", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"http\"\n")) ==
        "exp.toml:2:1: error: probes[0].url: missing required key (add url = <a string>)");
}

TEST_CASE("validation: wrong value type", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = "
                               "\"80\"\n")) ==
        "exp.toml:6:8: error: probes[0].port: expected an integer, got string '80'");
}

TEST_CASE("validation: a probe URL must be http or https", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"http\"\nurl = \"ftp://x/\"\n")) ==
        "exp.toml:5:7: error: probes[0].url: 'ftp://x/' is not an http:// or https:// URL");
}

TEST_CASE("validation: probe interval below 10ms", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\nhost = \"h\"\nport = "
                               "1\ninterval = \"1ms\"\n")) ==
        "exp.toml:7:12: error: probes[0].interval: the shortest probe interval is \"10ms\"");
}

TEST_CASE("validation: no probes at all", "[unit][validation]") {
  CHECK(only_error("name = \"t\"\n") ==
        "exp.toml:1:1: error: probes: no [[probes]]: add at least one probe so rebound can judge the steady state");
}

TEST_CASE("validation: a single table where an array of tables belongs", "[unit][validation]") {
  CHECK(only_error("name = \"t\"\n[probes]\nname = \"h\"\n") ==
        "exp.toml:2:1: error: probes: expected an array of tables: write [[probes]] for each entry, got a table");
}

TEST_CASE("validation: unknown step type suggests the right one", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.kil\"\ntarget = \"svc\"\n")) ==
        "exp.toml:12:8: error: method[0].type: unknown step type 'process.kil'; did you mean 'process.kill'? (run "
        "`rebound faults` for the list)");
}

TEST_CASE("validation: a step names a target that does not exist", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.kill\"\ntarget = \"scv\"\n")) ==
        "exp.toml:13:10: error: method[0].target: no target named 'scv'; did you mean 'svc'?");
}

TEST_CASE("validation: a fault without a target", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.kill\"\n")) ==
        "exp.toml:11:1: error: method[0].target: missing required key: process.kill acts on a target; add target = "
        "\"<name of a [[targets]] entry>\"");
}

TEST_CASE("validation: a command step takes no target", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"command\"\ntarget = \"svc\"\nargv = [\"true\"]\n")) ==
        "exp.toml:13:10: error: method[0].target: step type command takes no target; remove it");
}

TEST_CASE("validation: an instant fault takes no duration", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.kill\"\ntarget = \"svc\"\nduration = \"5s\"\n")) ==
        "exp.toml:14:12: error: method[0].duration: process.kill takes no duration; remove it");
}

TEST_CASE("validation: a lasting fault needs a duration", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.stop\"\ntarget = \"svc\"\n")) ==
        "exp.toml:11:1: error: method[0].duration: missing required key: process.stop needs a duration, e.g. "
        "duration = \"5s\"");
}

TEST_CASE("validation: unknown signal", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.kill\"\ntarget = \"svc\"\nsignal = \"SIGFOO\"\n")) ==
        "exp.toml:14:10: error: method[0].signal: unknown signal string 'SIGFOO': use a name such as \"SIGKILL\" or "
        "\"SIGTERM\", or a number from 1 to 64");
}

TEST_CASE("validation: bad process count", "[unit][validation]") {
  CHECK(only_error(with_base("[[method]]\ntype = \"process.kill\"\ntarget = \"svc\"\ncount = 0\n")) ==
        "exp.toml:14:9: error: method[0].count: expected a positive integer or \"all\", got integer 0");
}

TEST_CASE("validation: a target needs a way to find it", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[targets]]\nname = \"svc\"\n") + kProbe) ==
        "exp.toml:3:8: error: targets[0].name: a target needs one of pid, pidfile, exe, cmdline, cgroup or setup (e.g. "
        "exe = \"nginx\")");
}

TEST_CASE("validation: a target with two ways to find it", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[targets]]\nname = \"svc\"\npid = 3\nexe = \"x\"\n") + kProbe) ==
        "exp.toml:3:8: error: targets[0].name: a target takes exactly one of pid, pidfile, exe, cmdline, cgroup or "
        "setup");
}

TEST_CASE("validation: a command-line pattern that is not a regular expression", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[targets]]\nname = \"svc\"\ncmdline = \"(unclosed\"\n") + kProbe) ==
        "exp.toml:4:11: error: targets[0].cmdline: invalid regular expression (RE2 syntax): missing ): (unclosed");
}

TEST_CASE("validation: a relative cgroup path", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"t\"\n[[targets]]\nname = \"svc\"\ncgroup = \"my-service\"\n") + kProbe) ==
        "exp.toml:4:10: error: targets[0].cgroup: a cgroup must be an absolute path such as "
        "\"/sys/fs/cgroup/unified/my-service\"");
}

TEST_CASE("validation: a ratio outside 0..1", "[unit][validation]") {
  CHECK(only_error(with_base("[steady_state]\nmin_success_ratio = 95\n")) ==
        "exp.toml:12:21: error: steady_state.min_success_ratio: 95 is not a ratio: use a number from 0 to 1 (e.g. 0.05 "
        "for 5%)");
}

TEST_CASE("validation: the steady state names an unknown probe", "[unit][validation]") {
  CHECK(only_error(with_base("[steady_state]\nprobes = [\"helth\"]\n")) ==
        "exp.toml:12:10: error: steady_state.probes: no probe named 'helth'; did you mean 'health'?");
}

TEST_CASE("validation: a guard names an unknown probe", "[unit][validation]") {
  CHECK(only_error(with_base("[[guards]]\nprobe = \"nope\"\n")) ==
        "exp.toml:12:9: error: guards[0].probe: no probe named 'nope'");
}

TEST_CASE("validation: an unknown variable", "[unit][validation]") {
  CHECK(only_error(with_base("[[setup]]\nargv = [\"${bin_dir}/x\"]\n")) ==
        "exp.toml:12:8: error: setup[0].argv: unknown variable ${bin_dir} (known: ${experiment_dir}, "
        "${rebound_bin_dir}, ${var.NAME}, ${env.NAME})");
}

TEST_CASE("validation: an empty argv", "[unit][validation]") {
  CHECK(only_error(with_base("[[rollbacks]]\nargv = []\n")) ==
        "exp.toml:12:8: error: rollbacks[0].argv: argv is empty: give the program and its arguments, e.g. argv = "
        "[\"curl\", \"-f\", URL]");
}

TEST_CASE("validation: a shell command in several strings", "[unit][validation]") {
  CHECK(only_error(with_base("[[teardown]]\nshell = true\nargv = [\"echo\", \"hi\"]\n")) ==
        "exp.toml:13:8: error: teardown[0].argv: with shell = true, argv holds one string: the shell command line");
}

TEST_CASE("validation: background is for setup only", "[unit][validation]") {
  CHECK(only_error(with_base("[[teardown]]\nargv = [\"x\"]\nbackground = true\n")) ==
        "exp.toml:13:1: error: teardown[0].background: unknown key (known keys here: argv, cwd, env, expect_exit, "
        "name, shell, timeout)");
}

TEST_CASE("validation: a setup readiness probe that does not exist", "[unit][validation]") {
  CHECK(only_error(with_base("[[setup]]\nargv = [\"x\"]\nbackground = true\nready_probe = \"healt\"\n")) ==
        "exp.toml:14:15: error: setup[0].ready_probe: no probe named 'healt'; did you mean 'health'?");
}

TEST_CASE("validation: two probes with one name", "[unit][validation]") {
  CHECK(only_error(with_base(std::string(kProbe))) ==
        "exp.toml:13:8: error: probes[1].name: another probe is already named 'health'");
}

TEST_CASE("validation: an experiment name that cannot name a folder", "[unit][validation]") {
  CHECK(only_error(std::string("name = \"../evil\"\n") + kProbe) ==
        "exp.toml:1:8: error: name: '../evil' cannot name a report folder: use letters, digits, '.', '_' and '-'");
}

TEST_CASE("validation: every error in a file is reported at once", "[unit][validation]") {
  auto e = errors_for(with_base("[[method]]\ntype = \"process.kil\"\n[slo]\nrecover_within = 2\nstabel_for = \"1s\"\n"));
  CHECK(e.size() == 3);
}

TEST_CASE("validation: variables expand to the experiment folder and rebound's folder", "[unit][validation]") {
  auto r = load_experiment_text(with_base("[[setup]]\nargv = [\"${rebound_bin_dir}/svc\", \"${experiment_dir}\"]\n"),
                                "/srv/x/exp.toml", LoadOptions{"/opt/rebound"});
  REQUIRE(r.experiment);
  CHECK(r.experiment->setup[0].argv == std::vector<std::string>{"/opt/rebound/svc", "/srv/x"});
}

// Network steps: every message a user can meet while declaring one.
namespace {
std::string net_step(const std::string& body) {
  return with_base("[[method]]\nduration = \"5s\"\n" + body);  // the step starts on line 11
}
}  // namespace

TEST_CASE("validation: a network fault with neither target nor interface", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.loss\"\nprobability = 0.1\n")) ==
        "exp.toml:11:1: error: method[0].target: missing required key: a network fault acts on a target's cgroup "
        "(target = \"...\") or on an interface (interface = \"eth0\")");
}

TEST_CASE("validation: a network fault with both target and interface", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.loss\"\ntarget = \"svc\"\ninterface = \"eth0\"\nprobability = 0.1\n")) ==
        "exp.toml:15:13: error: method[0].interface: give either target (the process tree's cgroup) or interface, not "
        "both");
}

TEST_CASE("validation: corrupt cannot act on a cgroup", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.corrupt\"\ntarget = \"svc\"\nprobability = 0.1\n")) ==
        "exp.toml:14:10: error: method[0].target: this fault cannot act on a cgroup (cgroup_skb programs cannot change "
        "packets); use interface = \"...\"");
}

TEST_CASE("validation: refuse cannot act on an interface", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.refuse\"\ninterface = \"eth0\"\n")) ==
        "exp.toml:14:13: error: method[0].interface: this fault cannot act on an interface (connect() hooks attach to "
        "cgroups); use target = \"...\"");
}

TEST_CASE("validation: netns without an interface", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.loss\"\ntarget = \"svc\"\nnetns = \"ns1\"\nprobability = 0.1\n")) ==
        "exp.toml:15:9: error: method[0].netns: netns goes with interface: name the interface inside that namespace");
}

TEST_CASE("validation: a probability outside 0..1", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 30\n")) ==
        "exp.toml:15:15: error: method[0].probability: 30 is not a probability: use a number from 0 to 1 (0.3 for "
        "30%)");
}

TEST_CASE("validation: loss without a probability", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.loss\"\ntarget = \"svc\"\n")) ==
        "exp.toml:11:1: error: method[0].probability: missing required key (add probability = <a number>)");
}

TEST_CASE("validation: a peer that is not an address", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 1.0\npeers = [\"10.0.0.0/33\"]\n")) ==
        "exp.toml:16:9: error: method[0].peers: '10.0.0.0/33' is not an IP address or CIDR such as \"10.0.0.0/8\" or "
        "\"fd00::/64\"");
}

TEST_CASE("validation: an unknown direction and protocol", "[unit][validation][network]") {
  auto e = errors_for(net_step("type = \"network.loss\"\ntarget = \"svc\"\nprobability = 1.0\ndirection = \"out\"\n"
                               "protocol = \"sctp\"\n"));
  REQUIRE(e.size() == 2);
  CHECK(e[0] == "exp.toml:16:13: error: method[0].direction: 'out' is not a direction: use \"ingress\", \"egress\" or "
                "\"both\"");
  CHECK(e[1] == "exp.toml:17:12: error: method[0].protocol: 'sctp' is not a protocol: use \"tcp\", \"udp\", \"icmp\" or "
                "\"any\"");
}

TEST_CASE("validation: a partition needs peers", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.partition\"\ntarget = \"svc\"\n")) ==
        "exp.toml:11:1: error: method[0].peers: missing required key: a partition needs the peers it cuts off, e.g. "
        "peers = [\"10.0.0.0/8\"]");
}

TEST_CASE("validation: a bandwidth rate without a unit", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.bandwidth\"\ntarget = \"svc\"\nrate = \"10\"\n")) ==
        "exp.toml:15:8: error: method[0].rate: '10' is not a rate: write a number and a unit such as \"10mbit\", "
        "\"512kbit\" or \"2MB\" (bit, kbit, mbit, gbit, B, kB, KiB, MB, MiB, GB per second)");
}

TEST_CASE("validation: a bandwidth rate with two dots or a number too large to hold is refused by key",
          "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.bandwidth\"\ntarget = \"svc\"\nrate = \"1.2.3MB\"\n"))
            .find("method[0].rate: '1.2.3MB' is not a rate") != std::string::npos);
  const std::string huge(400, '9');
  CHECK(only_error(net_step("type = \"network.bandwidth\"\ntarget = \"svc\"\nrate = \"" + huge + "mbit\"\n"))
            .find("method[0].rate: '" + huge + "mbit' is not a rate") != std::string::npos);
}

TEST_CASE("validation: an errno refuse cannot return", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"network.refuse\"\ntarget = \"svc\"\nerrno = \"ENOENT\"\n")) ==
        "exp.toml:15:9: error: method[0].errno: 'ENOENT' is not an errno rebound can return from connect(): use "
        "ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ECONNRESET, EACCES or EPERM");
}

TEST_CASE("validation: dns.fail answers need an interface", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"dns.fail\"\ntarget = \"svc\"\ndomain = \"example.com\"\n")) ==
        "exp.toml:11:1: error: method[0].answer: a cgroup-scoped dns.fail can only drop queries (answer = "
        "\"timeout\"): cgroup_skb programs cannot write an answer; use interface = \"...\" for nxdomain or servfail");
}

TEST_CASE("validation: a domain that is not a DNS name", "[unit][validation][network]") {
  CHECK(only_error(net_step("type = \"dns.fail\"\ninterface = \"eth0\"\ndomain = \"bad..name\"\n")) ==
        "exp.toml:15:10: error: method[0].domain: 'bad..name' is not a DNS name such as \"api.example.com\" or "
        "\"*.example.com\"");
}

TEST_CASE("validation: a misspelt key inside one of several toxics", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"tcp.toxic\"\ntarget = \"svc\"\ntoxics = [\n"
                            "  { toxic = \"latency\", latency = \"10ms\", jiter = \"5ms\" },\n]\n")) ==
        "exp.toml:16:42: error: method[0].toxics[0].jiter: unknown key; did you mean 'jitter'?");
}

TEST_CASE("validation: a toxic that does not exist lists those that do", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"tcp.toxic\"\ntarget = \"svc\"\ntoxic = \"lag\"\n")) ==
        "exp.toml:15:9: error: method[0].toxic: 'lag' is not a toxic: use one of latency, bandwidth, slow_close, "
        "timeout, reset_peer, slicer, limit_data");
}

TEST_CASE("validation: a toxics item that is not a table", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"tcp.toxic\"\ntarget = \"svc\"\ntoxics = [\"latency\"]\n")) ==
        "exp.toml:15:10: error: method[0].toxics: item 1 is string 'latency', not a table such as "
        "{ toxic = \"latency\", latency = \"100ms\" }");
}

TEST_CASE("validation: one toxic and a list of toxics at once", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"tcp.toxic\"\ntarget = \"svc\"\ntoxic = \"timeout\"\n"
                            "toxics = [{ toxic = \"timeout\" }]\n")) ==
        "exp.toml:15:9: error: method[0].toxic: give either one toxic (toxic = \"...\" with its keys) or a list "
        "(toxics = [...]), not both");
}

TEST_CASE("validation: jitter larger than the latency", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"network.delay\"\ntarget = \"svc\"\nlatency = \"10ms\"\njitter = \"20ms\"\n")) ==
        "exp.toml:16:10: error: method[0].jitter: jitter cannot exceed latency (data cannot arrive before it was sent)");
}

TEST_CASE("validation: a toxic direction from the packet faults' vocabulary", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"network.delay\"\ntarget = \"svc\"\nlatency = \"10ms\"\ndirection = \"egress\"\n")) ==
        "exp.toml:16:13: error: method[0].direction: 'egress' is not a direction: use \"downstream\" (server to "
        "client), \"upstream\" (client to server) or \"both\"");
}

TEST_CASE("validation: toxicity outside 0..1", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"network.delay\"\ntarget = \"svc\"\nlatency = \"10ms\"\ntoxicity = 50\n")) ==
        "exp.toml:16:12: error: method[0].toxicity: 50 is not a ratio: use a number from 0 to 1 (0.3 for 30% of "
        "connections)");
}

TEST_CASE("validation: the proxy carries TCP only", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"network.delay\"\ntarget = \"svc\"\nlatency = \"10ms\"\nprotocol = \"udp\"\n")) ==
        "exp.toml:16:12: error: method[0].protocol: the proxy carries TCP connections only: leave protocol out or "
        "write \"tcp\"");
}

TEST_CASE("validation: proxy faults act on a target, not an interface", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"network.delay\"\ninterface = \"lo\"\nlatency = \"10ms\"\n")) ==
        "exp.toml:14:13: error: method[0].interface: this fault cannot act on an interface (connections are steered "
        "into the proxy by connect() hooks on the target's cgroup); use target = \"...\"");
}

TEST_CASE("validation: a proxy buffer out of range or in bits", "[unit][validation][proxy]") {
  CHECK(only_error(net_step("type = \"network.delay\"\ntarget = \"svc\"\nlatency = \"10ms\"\nbuffer = \"1gbit\"\n")) ==
        "exp.toml:16:10: error: method[0].buffer: '1gbit' is not a buffer size from 64KiB to 64MiB: write e.g. "
        "\"4MiB\" (B, kB, KiB, MB, MiB)");
}
