#!/usr/bin/env bash
# The Debian package as a user meets it (issue 11): `cpack -G DEB` builds rebound_<version>_amd64.deb with
# Depends computed from the libraries; `apt-get install ./rebound_*.deb` installs it; the installed rebound
# names its commit, `rebound doctor` runs, the demo passes from the installed paths alone; `apt-get purge`
# leaves none of its files behind. Installing needs root: skipped (77) otherwise, failed under CI=true.
set -euo pipefail
build=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
  [ -n "${CI:-}" ] && fail "needs root to install the package (CI must run the tests as root)"
  echo "skipped: installing a package needs root" >&2
  exit 77
fi
if dpkg-query -W -f='${Status}' rebound 2>/dev/null | grep -q "install ok installed"; then
  [ -n "${CI:-}" ] && fail "a rebound package is already installed on this machine"
  echo "skipped: a rebound package is already installed here; this test installs and removes its own" >&2
  exit 77
fi
scratch=$(mktemp -d /tmp/rebound-package-test.XXXXXX)
cleanup() {
  dpkg-query -W rebound >/dev/null 2>&1 && apt-get purge -y -qq rebound >/dev/null 2>&1
  rm -rf "$scratch"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) || { cat "$scratch/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$scratch"/out/rebound_*_amd64.deb) || fail "no rebound_<version>_amd64.deb in $(ls "$scratch/out")"
echo "built $(basename "$deb"), $(du -h "$deb" | cut -f1)"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libbpf1 libcurl4 libsqlite3-0 libc6 libstdc++6; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' >"$scratch/files"
for f in /usr/bin/rebound /usr/lib/rebound/rebound-demo-service /usr/lib/rebound/rebound-supervisor \
  /usr/share/rebound/scenarios/demo/kill-supervised.toml /usr/share/man/man1/rebound.1.gz \
  /usr/share/man/man1/rebound-run.1.gz /usr/share/bash-completion/completions/rebound \
  /usr/lib/systemd/system/rebound-gameday@.service /usr/share/doc/rebound/README.md; do
  grep -qx "$f" "$scratch/files" || fail "the package lacks $f"
done

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$scratch/apt.log" 2>&1 ||
  { cat "$scratch/apt.log"; fail "apt-get install ./$(basename "$deb")"; }
command -v rebound | grep -qx /usr/bin/rebound || fail "rebound is not /usr/bin/rebound on PATH"
version=$(rebound --version)
echo "installed: $version"
[[ $version =~ ^rebound\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{7,}(-dirty)?\)$ ]] || fail "--version says '$version'"
rebound doctor >"$scratch/doctor.log" 2>&1 || { cat "$scratch/doctor.log"; fail "rebound doctor"; }
grep -q "process.kill" "$scratch/doctor.log" || fail "rebound doctor does not list process.kill"
zcat /usr/share/man/man1/rebound-run.1.gz | sed 's/\\-/-/g' | grep -q -- "--report-dir" ||
  fail "man rebound-run lacks --report-dir"
# The completion offers subcommands and a subcommand's options from its --help.
words=$(bash -c 'source /usr/share/bash-completion/bash_completion; source /usr/share/bash-completion/completions/rebound; COMP_WORDS=(rebound ru); COMP_CWORD=1;
  COMP_LINE="rebound ru"; COMP_POINT=${#COMP_LINE}; _rebound; echo "${COMPREPLY[*]}"')
[ "$words" = run ] || fail "completing 'rebound ru' gave '$words'"
words=$(bash -c 'source /usr/share/bash-completion/bash_completion; source /usr/share/bash-completion/completions/rebound; COMP_WORDS=(rebound run --rep); COMP_CWORD=2;
  COMP_LINE="rebound run --rep"; COMP_POINT=${#COMP_LINE}; _rebound; echo "${COMPREPLY[*]}"')
[ "$words" = --report-dir ] || fail "completing 'rebound run --rep' gave '$words'"

# The demo from the installed paths only: its scenario finds the demo programs in /usr/lib/rebound.
(cd "$scratch" && rebound run /usr/share/rebound/scenarios/demo/kill-supervised.toml --no-progress --no-history \
  --report-dir "$scratch/reports" --state-dir "$scratch/state") >"$scratch/demo.log" 2>&1 ||
  { cat "$scratch/demo.log"; fail "the demo from the installed package did not pass"; }
grep -q "passed" "$scratch/demo.log" || { cat "$scratch/demo.log"; fail "the demo did not say passed"; }
grep -q '"rebound_commit"' "$scratch"/reports/*/journal.json || fail "the journal does not record the commit"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq rebound >"$scratch/purge.log" 2>&1 ||
  { cat "$scratch/purge.log"; fail "apt-get purge rebound"; }
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$scratch/files" || true)
[ -z "$left" ] || fail "left behind after purge: $left"
for d in /usr/lib/rebound /usr/share/rebound /usr/share/doc/rebound; do
  [ ! -e "$d" ] || fail "left behind after purge: $d"
done
echo "package test passed: built, installed, ran the demo, purged, nothing left"
