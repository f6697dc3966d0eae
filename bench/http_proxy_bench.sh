#!/usr/bin/env bash
# What http.fault's proxy costs when no rule matches: wrk (keep-alive, 10 connections, one thread) against nginx
# on loopback, directly, through the HTTP proxy (http.fault, a rule that matches nothing) and through the TCP
# proxy (tcp.toxic, a latency toxic no connection draws). Prints requests/s and the p50/p99 latency of each, and
# the ratios to the direct run. Root (cgroup v2, BPF). `bench/http_proxy_bench.sh [BUILD_DIR]`; needs
# nginx-light and wrk (scripts/install-deps.sh).
# Measured (2 cores shared with other builds, 10 s per run): direct 57,195/s p50 114 us p99 3.6 ms; http.fault
# 23,508/s (0.41x) p50 426 us p99 5.2 ms; tcp.toxic 24,386/s (0.42x) p50 318 us p99 4.3 ms. A 5 s run gave
# 0.42x and 0.40x: the two proxies cost about the same; the loss is mostly a third busy thread on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build="$(realpath "${1:-build}")"
seconds="${SECONDS_PER_RUN:-10}"
conns="${CONNECTIONS:-10}"
work="$(mktemp -d /tmp/rebound-http-bench.XXXXXX)"
port=18311
url="http://127.0.0.1:$port/"
cg_root="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)"
cg="$cg_root/rebound-http-bench-$$"
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
mkdir "$cg"
sleep 3600 &
anchor=$!
echo "$anchor" >"$cg/cgroup.procs"
nginx -c "$work/nginx.conf" -p "$work"
cleanup() {
  kill "$(cat "$work/nginx.pid")" "$anchor" 2>/dev/null || true
  [ -n "${rebound_pid:-}" ] && kill "$rebound_pid" 2>/dev/null && wait "$rebound_pid" 2>/dev/null || true
  sleep 0.2
  rmdir "$cg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
sleep 0.5

# wrk inside the target cgroup; prints "requests/s p50_us p99_us".
measure() {
  sh -c "echo \$\$ > $cg/cgroup.procs && exec wrk -t1 -c$conns -d${seconds}s --latency $url" >"$work/wrk.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.txt")
  p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.txt")
  echo "$rps $(to_us "$p50") $(to_us "$p99")"
}
to_us() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1e6 }'
}

# rebound holding one step on the cgroup until killed; returns once it is applied.
with_fault() {
  cat >"$work/exp.toml" <<TOML
name = "http-bench"
[[targets]]
name = "clients"
cgroup = "$cg"
[[probes]]
name = "always"
type = "command"
argv = ["/bin/true"]
interval = "1s"
[steady_state]
window = "200ms"
[[method]]
name = "fault"
target = "clients"
ports = [$port]
duration = "10m"
$1
TOML
  "$build/rebound" run "$work/exp.toml" --report-dir "$work/r" --state-dir "$work/state" --no-progress \
    --no-history >"$work/rebound.log" 2>&1 &
  rebound_pid=$!
  for _ in $(seq 100); do grep -q ") applied" "$work/rebound.log" && return 0; sleep 0.1; done
  cat "$work/rebound.log" >&2
  return 1
}
# Stops rebound and says how many connections its proxy carried (wrk's, if the steering worked).
end_fault() {
  kill "$rebound_pid"
  wait "$rebound_pid" || true
  rebound_pid=""
  python3 - "$work/r/http-bench/journal.json" "$1" >&2 <<'PY'
import json, sys
detail = json.load(open(sys.argv[1]))["steps"][0]["detail"]
print(f"  ({sys.argv[2]}: {detail['connections']} connections through the proxy)")
PY
  rm -rf "$work/r"
}

echo "== wrk -c$conns for ${seconds}s against nginx on loopback, from the target cgroup"
read -r d_rps d_p50 d_p99 <<<"$(measure)"
with_fault 'type = "http.fault"
path = "^/never"
action = "reset"'
read -r h_rps h_p50 h_p99 <<<"$(measure)"
end_fault http.fault
with_fault 'type = "tcp.toxic"
toxic = "latency"
latency = "100ms"
toxicity = 0.0'
read -r t_rps t_p50 t_p99 <<<"$(measure)"
end_fault tcp.toxic
printf "%-22s %12s %10s %10s %14s %14s\n" path requests/s p50_us p99_us added_p50_us added_p99_us
for row in "direct $d_rps $d_p50 $d_p99" "http.fault(no-match) $h_rps $h_p50 $h_p99" "tcp.toxic(no-toxic) $t_rps $t_p50 $t_p99"; do
  read -r name rps p50 p99 <<<"$row"
  printf "%-22s %12.0f %10.0f %10.0f %14.0f %14.0f\n" "$name" "$rps" "$p50" "$p99" "$(echo "$p50 - $d_p50" | bc -l)" \
    "$(echo "$p99 - $d_p99" | bc -l)"
done
echo "ratios to direct: http.fault $(echo "scale=2; $h_rps / $d_rps" | bc -l)x requests/s," \
  "tcp.toxic $(echo "scale=2; $t_rps / $d_rps" | bc -l)x; http.fault vs tcp.toxic $(echo "scale=2; $h_rps / $t_rps" | bc -l)x"
