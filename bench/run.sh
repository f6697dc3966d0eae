#!/usr/bin/env bash
# Builds and runs every benchmark; prints the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
./build/bench/rebound_bench "${1:-all}"
