#!/usr/bin/env bash
# The load probe's benchmark (issue 14); prints numbers. Starts nginx (nginx-light) on 127.0.0.1:18291, then:
#  1. rate accuracy and latency at 1,000, 5,000 and 10,000 requests/s for 10 s (build/bench/rebound_load_bench),
#     each compared in the same run with wrk at about the same load (Debian's wrk is closed-loop: each of its
#     connections waits 10 ms between requests, from a Lua delay(), so N connections send about 100 x N/s);
#  2. the peak RSS of `rebound run` with a load probe at 2,000/s for LONG_SECONDS (default 600: ten minutes),
#     against issue 14's target of 50 MiB, and the rate its journal shows.
# `bench/load_bench.sh [BUILD_DIR]`; needs nginx-light and wrk (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
seconds="${SECONDS_PER_RATE:-10}"
long="${LONG_SECONDS:-600}"
work="$(mktemp -d /tmp/rebound-load-bench.XXXXXX)"
port=18291
url="http://127.0.0.1:$port/"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$port; location / { return 200 "ok\n"; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
trap 'kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 0.5
cat >"$work/pace.lua" <<'LUA'
function delay() return 10 end
LUA
echo "== rate accuracy, $seconds s per rate, against nginx ($url)"
for rate in 1000 5000 10000; do
  "$build/bench/rebound_load_bench" "$url" "$seconds" "$rate"
  conns=$((rate / 100))
  wrk -t1 -c"$conns" -d"${seconds}s" --latency -s "$work/pace.lua" "$url" >"$work/wrk.txt"
  echo "wrk (closed) ~${rate}/s: $(grep 'Requests/sec' "$work/wrk.txt" | tr -s ' '), latency p50$(grep -E '^ +50%' "$work/wrk.txt" | tr -s ' ' | cut -d' ' -f3-), p99$(grep -E '^ +99%' "$work/wrk.txt" | tr -s ' ' | cut -d' ' -f3-), $conns connections"
done
echo "== memory: rebound run with a load probe at 2000/s for ${long} s"
cat >"$work/long.toml" <<TOML
name = "load-rss"
[[probes]]
name = "users"
type = "load"
rate = "2000/s"
url = "$url"
[steady_state]
window = "2s"
[[method]]
name = "hold"
type = "wait"
duration = "${long}s"
TOML
/usr/bin/time -f "%M %e" -o "$work/rss.txt" "$build/rebound" run "$work/long.toml" --report-dir "$work/r" \
  --state-dir "$work/s" --no-history >"$work/run.txt" 2>&1 || true
tail -3 "$work/run.txt"
read -r peak_kib wall_s < <(tail -1 "$work/rss.txt")  # after "Command exited with non-zero status N"
# The requests the journal counts (its bucket rows) over the span they were scheduled in.
python3 - "$work/r/load-rss/journal.json" <<'PY'
import json, sys
p = next(p for p in json.load(open(sys.argv[1]))["probes"] if p["name"] == "users")
rows = p.get("buckets") or []
n, failed = sum(r[2] for r in rows), sum(r[3] for r in rows)
span = (rows[-1][0] - rows[0][0]) / 1000 if len(rows) > 1 else 0
print(f"requests: {n} in {span:.1f} s = {n / span if span else 0:.1f}/s (target 2000/s), {failed} failed")
PY
echo "journal: $(du -k "$work/r/load-rss/journal.json" | cut -f1) KiB, rebound run took ${wall_s} s"
verdict=$([ "$peak_kib" -lt $((50 * 1024)) ] && echo "met" || echo "NOT met")
echo "peak RSS of rebound run: $((peak_kib / 1024)) MiB ($peak_kib KiB); target: under 50 MiB ($((50 * 1024)) KiB): $verdict"
