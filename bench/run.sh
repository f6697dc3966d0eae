#!/usr/bin/env bash
# Builds and runs the benchmarks; prints the numbers. `bench/run.sh [all|startup|precision|capacity|net|proxy|host]`.
# The network, proxy and host benchmarks need root.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
case "$what" in
  net) ./build/bench/rebound_net_bench ;;
  proxy) ./build/bench/rebound_proxy_bench ;;
  host) bench/host_bench.py build ;;
  *)
    ./build/bench/rebound_bench "$what"
    if [ "$what" = all ] && [ "$(id -u)" = 0 ]; then
      ./build/bench/rebound_net_bench
      ./build/bench/rebound_proxy_bench
      bench/host_bench.py build
    fi
    ;;
esac
