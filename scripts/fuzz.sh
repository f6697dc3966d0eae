#!/usr/bin/env bash
# Fuzzes the experiment and suite loaders (and their validation) with libFuzzer under ASan+UBSan.
#   scripts/fuzz.sh [SECONDS]      (default 60)
# Builds build-fuzz/ with clang-14 (-DREBOUND_FUZZ=ON), seeds the corpus with scenarios/**/*.toml, the TOML
# written in tests/*.cpp and tests/fuzz-regressions/, and runs for SECONDS. Exits non-zero on a crash, a
# sanitizer report, a leak or an input slower than 10 s; the input is then in build-fuzz/crashes/: copy it
# into tests/fuzz-regressions/ (a unit test loads each file there) and fix the loader.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DREBOUND_FUZZ=ON -DREBOUND_TESTS=OFF \
  -DREBOUND_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
cmake --build build-fuzz --target rebound-fuzz-loader -j "${JOBS:-$(nproc)}"

seeds=build-fuzz/seeds
corpus=build-fuzz/corpus
crashes=build-fuzz/crashes
rm -rf "$seeds"
mkdir -p "$seeds" "$corpus" "$crashes"
find scenarios -name '*.toml' | while read -r f; do cp "$f" "$seeds/$(echo "$f" | tr / _)"; done
find tests/fuzz-regressions -type f ! -name README.md -exec cp -t "$seeds" {} +
python3 fuzz/extract_toml.py tests "$seeds"

./build-fuzz/fuzz/rebound-fuzz-loader -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -dict=fuzz/toml.dict -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" "$seeds"
