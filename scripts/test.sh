#!/usr/bin/env bash
# Builds rebound twice, plain and with ASan+UBSan, and runs every test in both builds; then fuzzes the loaders.
# Privileged tests ([root], CTest label "privileged") need root; under CI=true they fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CI:-}" ] && [ "$(id -u)" != 0 ]; then
  echo "CI must run the tests as root: the privileged tests would skip" >&2
  exit 1
fi
jobs=$(nproc)
# Tests and benchmarks on explicitly: the README's first command configures the same folder without them.
cmake -S . -B build -G Ninja -DREBOUND_TESTS=ON -DREBOUND_BENCH=ON
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure)
cmake -S . -B build-asan -G Ninja -DREBOUND_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j "$jobs"
(cd build-asan && ctest --output-on-failure)
# The experiment and suite loaders under libFuzzer (clang, ASan+UBSan) for a bounded time: a crash, a sanitizer
# report or a hang fails the run (scripts/fuzz.sh SECONDS runs it longer on demand).
scripts/fuzz.sh "${REBOUND_FUZZ_SECONDS:-60}"
