// Network-fault benchmarks (root). Numbers are printed, never asserted.
//  1. activation / removal latency: rebound's network.loss (tc, interface scope) against the same drop rule added
//     and removed with iptables (nftables backend), on one UDP stream between two namespaces made here;
//  2. idle cost: TCP throughput with no program, with rebound's programs attached but matching nothing, and
//     with an iptables rule that matches nothing;
//  3. per-packet program cost from bpf_prog_test_run_opts.
#include <arpa/inet.h>
#include <atomic>
#include <bpf/bpf.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <mutex>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sched.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "injectors/network/bpf_handles.hpp"

namespace fs = std::filesystem;

namespace {

int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

int sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

std::string bin(const std::string& name) { return std::string(REBOUND_BIN_DIR) + "/" + name; }

void enter(const std::string& ns) {
  int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    std::perror("setns");
    std::exit(1);
  }
  close(fd);
}

struct Net {
  std::string c = "rbbc", s = "rbbs";
  Net() {
    sh("ip netns del rbbc; ip netns del rbbs");
    sh("ip netns add rbbc && ip netns add rbbs");
    sh("ip link add rbbc0 netns rbbc type veth peer name rbbs0 netns rbbs");
    sh("ip -n rbbc addr add 10.197.0.1/24 dev rbbc0 && ip -n rbbs addr add 10.197.0.2/24 dev rbbs0");
    sh("ip -n rbbc link set rbbc0 up && ip -n rbbs link set rbbs0 up && ip -n rbbc link set lo up && ip -n rbbs link set lo up");
  }
  ~Net() { sh("ip netns del rbbc; ip netns del rbbs"); }
};

constexpr int64_t kGapNs = 20'000;  // one datagram every 20 us: finer than the latencies measured

// A UDP stream client -> server every kGapNs; each datagram carries its sequence and send time.
struct Stream {
  std::atomic<bool> stop{false};
  std::vector<int64_t> sent;  // send time by sequence
  std::vector<char> got;      // received, by sequence
  std::mutex mutex;
  std::thread sender, receiver;
  Stream() {
    sent.reserve(2'000'000);
    got.assign(2'000'000, 0);
    std::atomic<bool> ready{false};
    receiver = std::thread([this, &ready] {
      enter("rbbs");
      int fd = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(9000);
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      int buffer = 64 << 20;  // a receiver descheduled for a while must not lose datagrams of its own
      setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
      ready = true;
      uint64_t msg[2];
      while (!stop) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        if (recv(fd, msg, sizeof msg, 0) == sizeof msg && msg[0] < got.size()) got[msg[0]] = 1;
      }
      close(fd);
    });
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    sender = std::thread([this] {
      enter("rbbc");
      int fd = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(9000);
      inet_pton(AF_INET, "10.197.0.2", &a.sin_addr);
      int64_t next = mono_ns();
      for (uint64_t seq = 0; !stop && seq < 2'000'000; ++seq) {
        int64_t now = mono_ns();
        {
          std::lock_guard lock(mutex);
          sent.push_back(now);
        }
        uint64_t msg[2] = {seq, static_cast<uint64_t>(now)};
        sendto(fd, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
        next += kGapNs;
        while (mono_ns() < next) {
        }
      }
      close(fd);
    });
  }
  void finish() {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
    sender.join();
    receiver.join();
  }
  // Time from t to the send of the first packet at or after t that was (lost == true) dropped / (false)
  // delivered, in ms. A drop counts when the next few were dropped too: a stray loss is not the fault.
  double first_after(int64_t t, bool lost) {
    for (size_t i = 0; i < sent.size(); ++i) {
      if (sent[i] < t || (got[i] == 0) != lost) continue;
      bool run = true;
      for (size_t k = i + 1; lost && k < std::min(sent.size(), i + 5); ++k) run = run && got[k] == 0;
      if (run) return (sent[i] - t) / 1e6;
    }
    return NAN;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

// The latency of a fault switching on and off: from its start to the first packet dropped, and from its end to
// the first one delivered, in ms.
struct OnOff {
  std::vector<double> on, off;
  std::vector<double> end_to_switch;  // rebound's own part of removal: the step's end -> its switch-off (journal)
};

OnOff rebound_on_off(int runs, OnOff& switched) {
  OnOff r;
  fs::path dir = fs::temp_directory_path() / "rebound-net-bench";
  fs::create_directories(dir);
  std::ofstream(dir / "loss.toml") << R"(name = "loss"
[[probes]]
name = "t"
type = "command"
argv = ["/bin/true"]
[steady_state]
window = "300ms"
[[method]]
name = "drop"
type = "network.loss"
interface = "rbbc0"
netns = "rbbc"
direction = "egress"
protocol = "udp"
ports = [9000]
probability = 1.0
duration = "1s"
)";
  for (int i = 0; i < runs; ++i) {
    Net net;
    Stream s;
    std::string cmd = bin("rebound") + " run " + (dir / "loss.toml").string() + " --report-dir " + (dir / "r").string() +
                      " --state-dir " + (dir / "s").string() + " --no-progress";
    sh(cmd);
    s.finish();
    std::ifstream in(dir / "r/loss/journal.json");
    auto j = nlohmann::json::parse(in);
    int64_t epoch = j["monotonic_epoch_ns"];
    const auto& step = j["steps"][0];
    int64_t start = epoch + static_cast<int64_t>(step["started_ms"].get<double>() * 1e6);
    int64_t end = epoch + static_cast<int64_t>((step["applied_ms"].get<double>() + 1000) * 1e6);
    int64_t applied = epoch + static_cast<int64_t>(step["applied_ms"].get<double>() * 1e6);
    int64_t reverted = epoch + static_cast<int64_t>(step["reverted_ms"].get<double>() * 1e6);
    r.on.push_back(s.first_after(start, true));
    r.off.push_back(s.first_after(end, false));
    switched.on.push_back(s.first_after(applied, true));
    switched.off.push_back(s.first_after(reverted, false));
    switched.end_to_switch.push_back((reverted - end) / 1e6);
  }
  return r;
}

OnOff iptables_on_off(int runs) {
  OnOff r;
  for (int i = 0; i < runs; ++i) {
    Net net;
    Stream s;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int64_t t0 = mono_ns();
    sh("ip netns exec rbbc iptables -A OUTPUT -p udp --dport 9000 -j DROP");
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    int64_t t1 = mono_ns();
    sh("ip netns exec rbbc iptables -D OUTPUT -p udp --dport 9000 -j DROP");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    s.finish();
    r.on.push_back(s.first_after(t0, true));
    r.off.push_back(s.first_after(t1, false));
  }
  return r;
}

void latency(int runs) {
  std::printf("\n== fault activation and removal latency (UDP every %lld us; %d runs; median [min, max] ms) ==\n",
              static_cast<long long>(kGapNs / 1000), runs);
  OnOff switched;
  OnOff rb = rebound_on_off(runs, switched);
  OnOff ipt = iptables_on_off(runs);
  auto show = [](const char* label, const std::vector<double>& v) {
    std::printf("  %-52s %7.3f  [%7.3f, %7.3f]\n", label, median(v), *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()));
  };
  show("rebound network.loss: step start -> first drop", rb.on);
  show("rebound network.loss: step end -> first delivery", rb.off);
  show("rebound: journal applied_ms (switch on) -> first drop", switched.on);
  show("rebound: journal reverted_ms (switch off) -> first delivery", switched.off);
  show("rebound: step end -> journal reverted_ms (switch off)", switched.end_to_switch);
  show("iptables (nft) command: start -> first drop", ipt.on);
  show("iptables (nft) command: start -> first delivery", ipt.off);
  std::printf("  ratio iptables / rebound: activation %.2fx, removal %.2fx\n", median(ipt.on) / median(rb.on),
              median(ipt.off) / median(rb.off));
}

double tcp_mbit() {
  std::string out = (fs::temp_directory_path() / "rebound-net-bench-sink").string();
  pid_t sink = fork();
  if (sink == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    execl(bin("rebound-nettool").c_str(), "rebound-nettool", "--netns", "rbbs", "tcp-sink", "7100", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  sh(bin("rebound-nettool") + " --netns rbbc tcp-send 10.197.0.2 7100 3");
  waitpid(sink, nullptr, 0);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto j = nlohmann::json::parse(text.substr(text.find('{')));
  return j["bytes"].get<double>() * 8 / j["seconds"].get<double>() / 1e6;
}

void idle_cost() {
  std::printf("\n== idle cost: TCP throughput over a veth pair (3 s each, Mbit/s) ==\n");
  Net net;
  double none = tcp_mbit();
  fs::path dir = fs::temp_directory_path() / "rebound-net-bench";
  std::ofstream(dir / "idle.toml") << R"(name = "idle"
[[probes]]
name = "t"
type = "command"
argv = ["/bin/true"]
[steady_state]
window = "200ms"
[[method]]
name = "nothing-matches"
type = "network.loss"
interface = "rbbc0"
netns = "rbbc"
peers = ["192.0.2.1/32"]
probability = 1.0
duration = "30s"
)";
  pid_t rb = fork();
  if (rb == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(bin("rebound").c_str(), "rebound", "run", (dir / "idle.toml").c_str(), "--report-dir", (dir / "r2").c_str(),
          "--state-dir", (dir / "s").c_str(), "--no-progress", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  double with_rebound = tcp_mbit();
  kill(rb, SIGTERM);
  waitpid(rb, nullptr, 0);
  sh("ip netns exec rbbc iptables -A OUTPUT -d 192.0.2.1 -j DROP && ip netns exec rbbc iptables -A INPUT -s 192.0.2.1 -j DROP");
  double with_iptables = tcp_mbit();
  std::printf("  no program                          %9.0f\n", none);
  std::printf("  rebound programs, nothing matching  %9.0f  (%.3f of no program)\n", with_rebound, with_rebound / none);
  std::printf("  iptables rules, nothing matching    %9.0f  (%.3f of no program)\n", with_iptables, with_iptables / none);
}

void per_packet_cost() {
  std::printf("\n== per-packet program cost (bpf_prog_test_run_opts, 1e6 repeats, ns/packet) ==\n");
  auto skel = rebound::load_netfault(rebound::kTcEgress);
  if (!skel) {
    std::printf("  cannot load: %s\n", skel.error().message.c_str());
    return;
  }
  struct __attribute__((packed)) {
    ethhdr eth;
    iphdr ip;
    udphdr udp;
    char payload[64];
  } pkt{};
  pkt.eth.h_proto = htons(ETH_P_IP);
  pkt.ip.version = 4;
  pkt.ip.ihl = 5;
  pkt.ip.protocol = IPPROTO_UDP;
  pkt.ip.tot_len = htons(sizeof pkt - sizeof(ethhdr));
  inet_pton(AF_INET, "10.0.0.1", &pkt.ip.saddr);
  inet_pton(AF_INET, "10.0.0.2", &pkt.ip.daddr);
  pkt.udp.dest = htons(9000);
  pkt.udp.len = htons(sizeof pkt.udp + sizeof pkt.payload);
  auto run = [&](const char* label) {
    char out[256];
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = &pkt;
    opts.data_size_in = sizeof pkt;
    opts.data_out = out;
    opts.data_size_out = sizeof out;
    opts.repeat = 1'000'000;
    int rc = bpf_prog_test_run_opts(bpf_program__fd((*skel)->progs.netfault_tc_egress), &opts);
    if (rc) std::printf("  %-46s error %d\n", label, rc);
    else std::printf("  %-46s %6u\n", label, opts.duration);
  };
  auto& cfg = (*skel)->bss->cfg;
  cfg.directions = NETFAULT_DIR_EGRESS;
  cfg.l2_len = 14;  // the test frames are Ethernet
  cfg.action = NETFAULT_DROP;
  cfg.probability = 0;
  cfg.n_cidrs = 1;
  cfg.cidrs[0].family = 4;
  cfg.cidrs[0].prefix = 32;
  inet_pton(AF_INET, "192.0.2.1", &cfg.cidrs[0].addr[0]);
  run("loss, peer filter does not match");
  inet_pton(AF_INET, "10.0.0.2", &cfg.cidrs[0].addr[0]);
  run("loss, matches, probability 0 (passes)");
  cfg.probability = 0xffffffffu;
  run("loss, matches, probability 1 (drops)");
  cfg.action = NETFAULT_POLICE;
  cfg.rate_bytes_per_sec = 1'000'000'000;
  cfg.burst_bytes = 1 << 30;
  cfg.fill_ns = 2'000'000'000ull * cfg.burst_bytes / cfg.rate_bytes_per_sec + 1;
  run("bandwidth, matches (token bucket under a spin lock)");
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "the network benchmarks need root\n");
    return 1;
  }
  std::string what = argc > 1 ? argv[1] : "all";
  std::printf("rebound network benchmarks (%u cores); numbers are printed, not asserted\n",
              std::thread::hardware_concurrency());
  if (what == "all" || what == "latency") latency(5);
  if (what == "all" || what == "idle") idle_cost();
  if (what == "all" || what == "cost") per_packet_cost();
}
