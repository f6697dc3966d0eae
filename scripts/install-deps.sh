#!/usr/bin/env bash
# Installs the Debian 12 packages rebound needs.
#   scripts/install-deps.sh          what building rebound and running its demo need
#   scripts/install-deps.sh --test   also what the tests, the package test, the fuzzer and the benchmarks need
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev libboost-dev libboost-filesystem-dev
  libtomlplusplus-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libsqlite3-dev libbpf-dev bpftool clang llvm libabsl-dev libre2-dev
  iproute2 procps tzdata
  stress-ng                             # the engine of cpu.stress, memory.stress and io.stress
  libfuse3-dev fuse3                    # file.error and file.delay (FUSE passthrough)
)
if [ "${1:-}" = "--test" ]; then
  packages+=(
    catch2 curl python3 util-linux dnsmasq-base nftables iptables socat systemd haproxy
    chromium fonts-dejavu-core          # the HTML reports, screenshot and DOM tests
    help2man dpkg-dev bash-completion   # the package: man pages, Depends, completion test
    nginx-light wrk                     # bench/load_bench.sh, bench/http_proxy_bench.sh, tests/test_http_fault.cpp
    libnginx-mod-http-echo              # tests/test_http_fault.cpp: nginx answering with a chunked body
    bc                                  # bench/http_proxy_bench.sh
    universal-ctags                     # scripts/code-size.sh
    tmux                                # the live display test (a real terminal)
    prometheus                          # the prometheus probe's tests start a real server
    clang-14 libfuzzer-14-dev libclang-rt-14-dev  # scripts/fuzz.sh
  )
elif [ -n "${1:-}" ]; then
  echo "usage: $0 [--test]" >&2
  exit 2
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
