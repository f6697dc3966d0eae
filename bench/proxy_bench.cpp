// The proxy behind network.delay and tcp.toxic, with no toxic drawn (toxicity 0), against a direct connection
// and against socat as the proxy, in the same run, on loopback (root). Numbers are printed, never asserted.
//  1. per request on a new connection (connect, 100-byte request line, 100-byte answer, close): p50 and p99;
//  2. per round trip on one open connection: p50 and p99;
//  3. bulk: one connection writing as fast as it can for 1 s;
// 1-3 run unpinned (the scheduler places everything, as it would in production);
//  4. connections per second with the proxy (rebound's, or socat's forks) pinned to CPU 1 and the clients and
//     the server on CPU 0, with the proxy core's busy share;
//  5. rebound's memory per idle connection held open through the proxy.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "injectors/network/bpf_handles.hpp"
#include "proxy_bench_io.hpp"

namespace fs = std::filesystem;
using namespace proxy_bench;

namespace {

constexpr int kIdle = 2000;

std::string bin(const std::string& name) { return std::string(REBOUND_BIN_DIR) + "/" + name; }

void join_cgroup(const std::string& cgroup) { std::ofstream(cgroup + "/cgroup.procs") << getpid() << std::flush; }

void print_row(const char* name, const Quantiles& request, const Quantiles& trip, double gbit) {
  std::printf("  %-8s  new connection p50 %7.1f us  p99 %7.1f us   round trip p50 %6.1f us  p99 %6.1f us   bulk %6.2f "
              "Gbit/s%s\n",
              name, request.p50, request.p99, trip.p50, trip.p99, gbit,
              request.failed + trip.failed ? "  (failures!)" : "");
}

// The processes of a run: socat as the other proxy, and rebound with its target's anchor.
struct Bench {
  std::string cgroup, home, dir;
  pid_t socat1 = 0, socat2 = 0, anchor = 0, rebound = 0;

  void start_socat() {
    socat1 = spawn({"socat", "TCP-LISTEN:" + std::to_string(kSocatAnswer) + ",bind=127.0.0.1,fork,reuseaddr",
                    "TCP:127.0.0.1:" + std::to_string(kAnswerPort)},
                   dir + "/socat1.log");
    socat2 = spawn({"socat", "TCP-LISTEN:" + std::to_string(kSocatSink) + ",bind=127.0.0.1,fork,reuseaddr",
                    "TCP:127.0.0.1:" + std::to_string(kSinkPort)},
                   dir + "/socat2.log");
  }

  // rebound with no toxic drawn (toxicity 0): the proxy alone. Its target is the cgroup, anchored by a sleep.
  // False (with its log printed) if it did not apply the step.
  bool start_rebound() {
    anchor = spawn({"sleep", "600"}, "/dev/null");
    std::ofstream(cgroup + "/cgroup.procs") << anchor << std::flush;
    std::ofstream(dir + "/bench.toml")
        << "name = \"proxy-bench\"\n[[targets]]\nname = \"clients\"\ncgroup = \"" << cgroup
        << "\"\nmax_targets = 1000\n[[probes]]\nname = \"idle\"\ntype = \"command\"\nargv = [\"/bin/true\"]\n"
           "interval = \"10s\"\n[steady_state]\nwindow = \"10ms\"\n[[method]]\nname = \"proxy\"\ntype = \"tcp.toxic\"\n"
           "target = \"clients\"\nports = ["
        << kAnswerPort << ", " << kSinkPort
        << "]\ntoxic = \"latency\"\nlatency = \"0ms\"\ntoxicity = 0.0\nduration = \"10m\"\n";
    fs::remove(dir + "/rebound.log");  // the last run's log says "applied" too
    rebound = spawn({bin("rebound"), "run", dir + "/bench.toml", "--report-dir", dir + "/r", "--state-dir",
                     dir + "/state", "--no-progress", "--no-history"},
                    dir + "/rebound.log");
    bool applied = false;
    std::string text;
    for (int i = 0; i < 100 && !applied; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::ifstream log(dir + "/rebound.log");
      text.assign(std::istreambuf_iterator<char>(log), {});
      applied = text.find(") applied") != std::string::npos;
    }
    if (!applied) std::fprintf(stderr, "proxy bench: rebound did not apply the step:\n%s\n", text.c_str());
    return applied;
  }

  void leave_cgroup() const { std::ofstream(home) << getpid() << std::flush; }

  void stop_all() const {
    stop(rebound);
    stop(socat1);
    stop(socat2);
    kill(anchor, SIGKILL);
  }
};

// Each variant's figures over the rounds, and their medians.
struct Rounds {
  std::vector<double> req50, req99, rt50, rt99, bulk;
  size_t failed = 0;
  void add(const Quantiles& req, const Quantiles& rt, double gbit) {
    req50.push_back(req.p50);
    req99.push_back(req.p99);
    rt50.push_back(rt.p50);
    rt99.push_back(rt.p99);
    bulk.push_back(gbit);
    failed += req.failed + rt.failed;
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  Quantiles request() const { return {median(req50), median(req99), failed}; }
  Quantiles trip() const { return {median(rt50), median(rt99), 0}; }
  double gbit() const { return median(bulk); }
};

void print_overhead(const Rounds& direct, const Rounds& socat, const Rounds& through_rebound) {
  auto direct_req = direct.request(), socat_req = socat.request(), rb_req = through_rebound.request();
  auto direct_rt = direct.trip(), socat_rt = socat.trip(), rb_rt = through_rebound.trip();
  double direct_bulk = direct.gbit(), socat_bulk = socat.gbit(), rb_bulk = through_rebound.gbit();
  print_row("direct", direct_req, direct_rt, direct_bulk);
  print_row("socat", socat_req, socat_rt, socat_bulk);
  print_row("rebound", rb_req, rb_rt, rb_bulk);
  std::printf("  added per request (p50/p99): rebound +%.1f/+%.1f us, socat +%.1f/+%.1f us\n",
              rb_req.p50 - direct_req.p50, rb_req.p99 - direct_req.p99, socat_req.p50 - direct_req.p50,
              socat_req.p99 - direct_req.p99);
  std::printf("  added per round trip (p50/p99): rebound +%.1f/+%.1f us, socat +%.1f/+%.1f us\n",
              rb_rt.p50 - direct_rt.p50, rb_rt.p99 - direct_rt.p99, socat_rt.p50 - direct_rt.p50,
              socat_rt.p99 - direct_rt.p99);
  std::printf("  bulk: rebound %.2fx of direct, socat %.2fx of direct (rebound/socat %.2fx)\n", rb_bulk / direct_bulk,
              socat_bulk / direct_bulk, rb_bulk / socat_bulk);
}

// 1-3, unpinned. The machine is shared and noisy: measure in rounds, each variant once per round, and report
// the median of the rounds' figures.
void measure_overhead(const Bench& bench, Server& server, int requests) {
  constexpr int kRounds = 5;
  std::printf("proxy overhead, loopback, no toxic; median of %d rounds, each round %d requests, %d round trips and "
              "1 s of bulk per variant:\n",
              kRounds, requests, requests * 5);
  Rounds direct, socat, through_rebound;
  for (int round = 0; round < kRounds; ++round) {
    direct.add(per_request(kAnswerPort, requests), round_trips(kAnswerPort, requests * 5),
               bulk_gbit(server, kSinkPort, 1));
    socat.add(per_request(kSocatAnswer, requests), round_trips(kSocatAnswer, requests * 5),
              bulk_gbit(server, kSocatSink, 1));
    join_cgroup(bench.cgroup);  // the bench's connects are steered through rebound until it leaves the cgroup
    through_rebound.add(per_request(kAnswerPort, requests), round_trips(kAnswerPort, requests * 5),
                        bulk_gbit(server, kSinkPort, 1));
    bench.leave_cgroup();
  }
  print_overhead(direct, socat, through_rebound);
}

// 4. One core each: the proxy (every thread of rebound; socat's listener, which its forks inherit) on CPU 1,
// the clients and the server on CPU 0.
void measure_connection_rate(const Bench& bench) {
  for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(bench.rebound) + "/task"))
    pin(std::stoi(t.path().filename()), 1);
  pin(bench.socat1, 1);
  for (const auto& t : fs::directory_iterator("/proc/self/task")) pin(std::stoi(t.path().filename()), 0);
  std::printf("\nconnections per second, proxy on CPU 1, 4 client threads and the server on CPU 0, 3 s:\n");
  join_cgroup(bench.cgroup);
  double rb_cpu0 = cpu_seconds(bench.rebound);
  auto rb_rate = connections_per_second(kAnswerPort, 4, 3);
  double rb_busy = (cpu_seconds(bench.rebound) - rb_cpu0) / 3;
  bench.leave_cgroup();  // out of the cgroup again
  auto direct_rate = connections_per_second(kAnswerPort, 4, 3);
  double socat_cpu0 = cpu_of_all("socat");
  auto socat_rate = connections_per_second(kSocatAnswer, 4, 3);
  double socat_busy = (cpu_of_all("socat") - socat_cpu0) / 3;
  std::printf("  direct   %8.0f conn/s\n", direct_rate.per_second);
  std::printf("  rebound  %8.0f conn/s  proxy core busy %3.0f%%  => %6.0f conn/s per busy core%s\n", rb_rate.per_second,
              rb_busy * 100, rb_rate.per_second / std::max(rb_busy, 0.01), rb_rate.failed ? "  (failures!)" : "");
  std::printf("  socat    %8.0f conn/s  proxy core busy %3.0f%%  => %6.0f conn/s per busy core%s\n",
              socat_rate.per_second, socat_busy * 100, socat_rate.per_second / std::max(socat_busy, 0.01),
              socat_rate.failed ? "  (failures!)" : "");
  std::printf("  rebound/socat: %.2fx conn/s\n", rb_rate.per_second / socat_rate.per_second);
  std::printf("  (socat's busy share: the listener's and its forks' CPU time, reaped or alive)\n");
}

// 5. Idle connections held open through rebound's proxy. User-space memory is rebound's RSS; the pipes' pages
// are kernel memory and are allocated only while data is held back (at most 1 MiB per direction).
void measure_memory(const Bench& bench) {
  std::printf("\nmemory, %d idle connections held open through rebound's proxy:\n", kIdle);
  join_cgroup(bench.cgroup);
  double rss_before = rss_kib(bench.rebound);
  std::vector<int> idle;
  for (int i = 0; i < kIdle; ++i) {
    int fd = connect_to(kAnswerPort);
    if (fd >= 0) idle.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double rss_after = rss_kib(bench.rebound);
  size_t fds = static_cast<size_t>(std::distance(
      fs::directory_iterator("/proc/" + std::to_string(bench.rebound) + "/fd"), fs::directory_iterator{}));
  std::printf("  opened %zu; rebound RSS %.1f -> %.1f MiB: %.2f KiB per connection; %zu descriptors open\n",
              idle.size(), rss_before / 1024, rss_after / 1024, (rss_after - rss_before) / std::max<size_t>(idle.size(), 1),
              fds);
  for (int fd : idle) close(fd);
  bench.leave_cgroup();
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "proxy bench: needs root (cgroup connect hooks)\n");
    return 1;
  }
  int requests = argc > 1 ? std::atoi(argv[1]) : 3000;
  std::signal(SIGPIPE, SIG_IGN);
  Bench bench;
  std::string root = rebound::cgroup2_mount();
  auto own = rebound::process_cgroup(getpid());
  bench.home = (own ? *own : root) + "/cgroup.procs";
  bench.cgroup = root + "/rebound-proxy-bench";
  fs::create_directory(bench.cgroup);
  bench.dir = fs::temp_directory_path() / "rebound-proxy-bench";
  fs::create_directories(bench.dir);
  Server server;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  bench.start_socat();  // pinned to CPU 1 later (its forks inherit it)
  if (!bench.start_rebound()) {
    bench.stop_all();
    return 1;
  }
  measure_overhead(bench, server, requests);
  measure_connection_rate(bench);
  measure_memory(bench);
  bench.stop_all();
  waitpid(bench.anchor, nullptr, 0);
  rmdir(bench.cgroup.c_str());
  return 0;
}
