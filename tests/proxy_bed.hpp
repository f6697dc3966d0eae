#pragma once
// The proxy tests' bed: a server in the server namespace and a target cgroup for clients in the client
// namespace, and what the tests read from the clients' results. Shared by test_proxy*.cpp; root only.
#include <algorithm>
#include <catch2/catch.hpp>

#include "helpers.hpp"

namespace proxy_test {

constexpr int kPort = 9100;       // the server the toxics are for
constexpr int kOtherPort = 9101;  // a server they are not for

// The test's hosts: a server answering on two ports, a cgroup for the clients, and a process in that cgroup
// and in the client namespace (a cgroup target must match a process, and the proxy listens in its namespace).
struct ProxyBed {
  test::TestNet net;
  test::TestCgroup cg;
  test::TempDir dir;
  std::unique_ptr<test::Child> anchor, server, other;
  ProxyBed() {
    anchor = std::make_unique<test::Child>(net.in(net.client, {"/bin/sleep", "300"}));
    cg.adopt(anchor->pid());
    server = std::make_unique<test::Child>(net.tool(net.server, {"tcp-serve", std::to_string(kPort)}), dir.path() + "/s1");
    other = std::make_unique<test::Child>(net.tool(net.server, {"tcp-serve", std::to_string(kOtherPort)}),
                                          dir.path() + "/s2");
    REQUIRE(test::file_contains_soon(dir.path() + "/s1", "ready", 5000));
    REQUIRE(test::file_contains_soon(dir.path() + "/s2", "ready", 5000));
  }
  std::string targets() const {
    return "[[targets]]\nname = \"clients\"\ncgroup = \"" + cg.path() + "\"\nmax_targets = 100\n";
  }
  // `count` requests of `bytes` each, one connection after another, from inside the cgroup or not.
  // `host`: the server's IPv4 address unless given (an IPv6 one, or "::ffff:" + IPv4).
  nlohmann::json requests(bool inside, int count, size_t bytes, bool hold = false, int port = kPort,
                          const std::string& host = "") const {
    test::TempDir d;
    std::vector<std::string> args{"tcp-request", host.empty() ? net.server_ip : host, std::to_string(port),
                                  std::to_string(count), std::to_string(bytes)};
    if (hold) args.push_back("hold");
    test::Child c(net.tool(net.client, args, inside ? cg.path() : ""), d.path() + "/out");
    REQUIRE(c.wait(120'000) == 0);
    auto text = test::read_text(d.path() + "/out");
    INFO(text);
    return nlohmann::json::parse(text.substr(text.find('{')))["results"];
  }
};

inline std::vector<double> field(const nlohmann::json& results, const char* key) {
  std::vector<double> v;
  for (const auto& r : results) v.push_back(r[key].get<double>());
  std::sort(v.begin(), v.end());
  return v;
}
inline double quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5)];
}

inline std::string step(const std::string& body) {
  return "target = \"clients\"\nports = [" + std::to_string(kPort) + "]\n" + body;
}

inline bool cgroup_has_programs(const std::string& path) {
  return test::sh("bpftool cgroup list " + path).find("netfault") != std::string::npos;
}

}  // namespace proxy_test
