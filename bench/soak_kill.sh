#!/usr/bin/env bash
# Soak test of "never leave a fault behind": N random SIGKILLs and SIGSEGVs of rebound mid-fault per lasting
# fault type, with no `rebound recover`: after each kill, checks with /proc, tc, bpftool and the state
# directory that the guardian left nothing behind within 1 s, and prints the counts.
#
#   sudo bench/soak_kill.sh [N] [TYPE...]      N kills per type (default 50)
#   TYPE: stop (process.stop), loss-pid (network.loss on a pid target), loss-if (network.loss on an interface
#   in a test network namespace), delay (network.delay on a pid target); default: all four.
#   REBOUND=path/to/rebound (default build/rebound); SOAK_PROGRESS=FILE appends one line per kill to FILE.
# Test traffic: none is needed; the interface fault is on a veth pair inside namespaces this script creates.
set -u

N=${1:-50}
shift || true
TYPES=("$@")
[ ${#TYPES[@]} -eq 0 ] && TYPES=(stop loss-pid loss-if delay)
REBOUND=${REBOUND:-build/rebound}
[ -x "$REBOUND" ] || { echo "no rebound binary at $REBOUND (set REBOUND=...)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root: the network types need it" >&2; exit 2; }
REBOUND=$(readlink -f "$REBOUND")
# Guardians say when they watch and what they found on waking: printed for a kill that left something.
export REBOUND_GUARDIAN_TRACE=1

WORK=$(mktemp -d /tmp/rebound-soak-XXXXXX)
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
HOME_CG="$CG_ROOT/rebound-soak-home-$$"
NS_C="rbsoakc$$"
NS_S="rbsoaks$$"
IF_C="rbsoakc$$"
IF_S="rbsoaks$$"
VICTIM=0

cleanup() {
  [ "$VICTIM" -gt 0 ] && kill -KILL "$VICTIM" 2>/dev/null
  if [ -d "$HOME_CG" ]; then
    while read -r pid; do echo "$pid" > "$CG_ROOT/cgroup.procs"; done < "$HOME_CG/cgroup.procs"
    rmdir "$HOME_CG" 2>/dev/null
  fi
  ip netns del "$NS_C" 2>/dev/null
  ip netns del "$NS_S" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
proc_state() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null; }
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
# Records, holds and run markers left in the state directory.
state_left() { find "$1" -name '*.json' 2>/dev/null | wc -l; }
netfault_progs() { bpftool prog show 2>/dev/null | grep -c 'name netfault'; }
tc_filters() {
  { tc -n "$NS_C" filter show dev "$IF_C" ingress; tc -n "$NS_C" filter show dev "$IF_C" egress; } 2>/dev/null
}

mkdir -p "$HOME_CG"
ip netns add "$NS_C" && ip netns add "$NS_S" &&
  ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S" &&
  ip -n "$NS_C" link set "$IF_C" up && ip -n "$NS_S" link set "$IF_S" up || { echo "cannot make the test netns" >&2; exit 2; }

PROGS_BEFORE=$(netfault_progs)
printf '%-9s %5s %5s %5s %7s %8s %8s %8s %8s %s\n' type kills KILL SEGV clean left journal p50_ms max_ms notes

experiment() {  # name step-table targets
  cat <<EOF
name = "$1"
$3
[[probes]]
name = "always"
type = "command"
argv = ["/bin/true"]
interval = "100ms"
[steady_state]
window = "200ms"
[[method]]
name = "fault"
$2
duration = "60s"
EOF
}

soak() {
  local type=$1 kills=0 nkill=0 nsegv=0 clean=0 left=0 journals=0 notes="" times=()
  local state="$WORK/state-$type"
  for ((i = 0; i < N; i++)); do
    local dir="$WORK/$type-$i" targets="" step applied_check clean_check
    mkdir -p "$dir"
    sleep 600 & VICTIM=$!
    echo "$VICTIM" > "$HOME_CG/cgroup.procs"
    local home; home=$(cgroup_of "$VICTIM")
    targets="[[targets]]
name = \"victim\"
pid = $VICTIM"
    case $type in
      stop) step='type = "process.stop"
target = "victim"' ;;
      loss-pid) step='type = "network.loss"
target = "victim"
probability = 1.0' ;;
      loss-if) targets=""; step="type = \"network.loss\"
interface = \"$IF_C\"
netns = \"$NS_C\"
probability = 0.5" ;;
      delay) step='type = "network.delay"
target = "victim"
latency = "100ms"' ;;
    esac
    experiment soak "$step" "$targets" > "$dir/x.toml"
    "$REBOUND" run "$dir/x.toml" --state-dir "$state" --report-dir "$dir/r" --no-history --no-progress \
      > "$dir/log" 2>&1 &
    local rb=$!
    local t0; t0=$(now_ms)
    until grep -q ') applied' "$dir/log" 2>/dev/null; do
      if ! kill -0 "$rb" 2>/dev/null || [ $(( $(now_ms) - t0 )) -gt 20000 ]; then
        notes="$notes not-applied:$i"; break
      fi
      sleep 0.02
    done
    sleep "0.$(( RANDOM % 5 ))"  # somewhere inside the fault
    local sig=KILL
    (( RANDOM % 2 )) && sig=SEGV
    [ $sig = KILL ] && nkill=$((nkill + 1)) || nsegv=$((nsegv + 1))
    # Whether its guardian is there to see the kill (a missing one explains a fault left behind).
    pgrep -f "__guardian $rb " > /dev/null || notes="$notes no-guardian:$i"
    local sent; sent=$(now_ms)
    kill -$sig "$rb"
    kills=$((kills + 1))
    local ok=0 elapsed=0
    while :; do
      case $type in
        stop) s=$(proc_state "$VICTIM"); [ "$s" = S ] || [ "$s" = R ] && ok=1 ;;
        loss-pid|delay) [ "$(cgroup_of "$VICTIM")" = "$home" ] && ok=1 ;;
        loss-if) [ -z "$(tc_filters)" ] && ok=1 ;;
      esac
      [ $ok = 1 ] && [ "$(state_left "$state")" = 0 ] && break
      ok=0
      elapsed=$(( $(now_ms) - sent ))
      [ $elapsed -gt 1000 ] && break
      sleep 0.005
    done
    elapsed=$(( $(now_ms) - sent ))
    wait "$rb" 2>/dev/null
    if [ $ok = 1 ]; then
      clean=$((clean + 1)); times+=("$elapsed")
    else
      left=$((left + 1)); notes="$notes left:$i(state=$(state_left "$state"))"
      if [ -n "${SOAK_PROGRESS:-}" ]; then
        { echo "left: $type kill $i of rebound $rb by SIG$sig; its guardian's log lines:"
          grep -E "rebound pid $rb[ ;]" "$state/guardian.log" 2>/dev/null
          find "$state" -name '*.json' -printf '  %P\n'; } >> "$SOAK_PROGRESS"
      fi
    fi
    # The crashed journal comes after the revert.
    for _ in $(seq 1 100); do grep -q '"crashed"' "$dir/r/soak/journal.json" 2>/dev/null && break; sleep 0.01; done
    grep -q '"crashed"' "$dir/r/soak/journal.json" 2>/dev/null && journals=$((journals + 1))
    if [ "$type" = loss-if ] && tc -n "$NS_C" qdisc show dev "$IF_C" | grep -q clsact; then
      notes="$notes clsact:$i"
    fi
    kill -KILL "$VICTIM" 2>/dev/null; wait "$VICTIM" 2>/dev/null; VICTIM=0
    rm -rf "$dir"
    [ -n "${SOAK_PROGRESS:-}" ] && echo "$type $kills clean=$clean left=$left ${elapsed}ms" >> "$SOAK_PROGRESS"
  done
  local p50=- max=-
  if [ ${#times[@]} -gt 0 ]; then
    mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
    p50=${sorted[$(( ${#sorted[@]} / 2 ))]}
    max=${sorted[$(( ${#sorted[@]} - 1 ))]}
  fi
  printf '%-9s %5d %5d %5d %7d %8d %8d %8s %8s %s\n' "$type" $kills $nkill $nsegv $clean $left $journals "$p50" "$max" \
    "${notes:-}"
}

# (bash reports each killed job on stderr: not needed here)
for t in "${TYPES[@]}"; do soak "$t" 2>/dev/null; done

sleep 0.5  # programs are freed once their last reference is gone
echo "rebound cgroups left: $(find "$CG_ROOT" -maxdepth 1 -name 'rebound-[0-9]*' | wc -l)"
echo "netfault programs loaded: $(netfault_progs) (before: $PROGS_BEFORE)"
echo "guardians still running: $(pgrep -c -f '^rebound __guardian' || true)"
