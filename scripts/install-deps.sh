#!/usr/bin/env bash
# Installs every Debian 12 package rebound needs to build, run its demo, run its tests and its benchmarks
# (nginx-light and wrk: bench/load_bench.sh).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libcurl4-openssl-dev libboost-dev libboost-filesystem-dev
  libtomlplusplus-dev libspdlog-dev libcli11-dev nlohmann-json3-dev catch2
  libsqlite3-dev libbpf-dev bpftool clang llvm
  iproute2 procps curl python3 dnsmasq-base util-linux nftables iptables chromium fonts-dejavu-core tzdata
  socat libabsl-dev systemd haproxy
  nginx-light wrk
  libre2-dev universal-ctags
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
