#!/bin/sh
# Moves the traffic of HAProxy's backend "app" from server blue to server green through its runtime API, and
# proves it moved: exits 1 unless green is UP and serving, and blue is in maintenance.
#   switch.sh SOCKET careful   green in first, then blue out (drain, then maintenance): no request is lost
#   switch.sh SOCKET hasty     blue stopped first (its process killed), then green in: requests fail meanwhile
set -eu
socket=$1 mode=$2
api() { echo "$1" | socat -t 2 - "UNIX-CONNECT:$socket"; }
# One server's field of `show stat` (CSV: 18 status, 8 stot = requests and sessions served).
field() { api "show stat" | awk -F, -v s="$1" -v f="$2" '$1 == "app" && $2 == s { print $f }'; }
wait_up() {
  for _ in $(seq 50); do
    [ "$(field green 18)" = UP ] && return 0
    sleep 0.1
  done
  echo "green did not come UP within 5 s: $(field green 18)" >&2
  exit 1
}
case $mode in
  careful)
    api "set server app/green state ready" >/dev/null
    wait_up
    api "set server app/blue state drain" >/dev/null  # no new requests; those in flight finish
    sleep 0.5
    api "set server app/blue state maint" >/dev/null ;;
  hasty)
    pkill -TERM -f "rebound-demo-service --port 18302" || true
    sleep 0.5  # the operator's pause before the next command
    api "set server app/green state ready" >/dev/null
    wait_up
    api "set server app/blue state maint" >/dev/null ;;
  *) echo "usage: $0 SOCKET careful|hasty" >&2; exit 2 ;;
esac
# The switch is only done when green answers and blue is out: green's count of requests served rises, and blue,
# in maintenance, takes nothing new (after a careful switch; a killed blue still counts the retries HAProxy makes
# of requests it had sent there).
blue_before=$(field blue 8) green_before=$(field green 8)
sleep 0.5
blue_after=$(field blue 8) green_after=$(field green 8)
echo "blue: $(field blue 18), $blue_before -> $blue_after sessions; green: $(field green 18), $green_before -> $green_after sessions"
moved=yes
[ "$(field blue 18)" = MAINT ] && [ "$(field green 18)" = UP ] && [ "$green_after" -gt "$green_before" ] || moved=no
[ "$mode" = careful ] && [ "$blue_after" != "$blue_before" ] && moved=no
if [ $moved = no ]; then
  echo "traffic did not move to green" >&2
  exit 1
fi
