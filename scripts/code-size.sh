#!/usr/bin/env bash
# Lists source files over 400 lines and functions over 60 lines (issue 10's size limits), longest first.
# Function extents come from Universal Ctags (Debian package universal-ctags). Generated code, the BPF program
# file and the third-party-shaped fuzz corpus are not counted. Exit status 0 always: it reports, it does not gate.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ctags >/dev/null || { echo "needs universal-ctags (apt-get install universal-ctags)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | grep -v -e '^ebpf/netfault.bpf.c$' -e '\.skel\.h$')
echo "# files over 400 lines"
wc -l "${files[@]}" | grep -v ' total$' | awk '$1 > 400 { print $1, $2 }' | sort -rn
echo "# functions over 60 lines"
ctags -x --_xformat='%n	%e	%F	%N' --kinds-C++=f --kinds-C=f --fields=+ne -o - "${files[@]}" 2>/dev/null |
  awk -F'\t' '$2 != "" { len = $2 - $1 + 1; if (len > 60) print len, $4, $3 ":" $1 }' | sort -rn
