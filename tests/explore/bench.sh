#!/bin/sh
# Explores each broken relay of tests/explore/bugs/*.mutant and reports, per bug:
# whether the invariant the bug breaks was found, the time to that finding,
# the shrink time, the minimal scenario's steps and replays, and whether
# that scenario passes against the unbroken cutover-relay (it must: else
# the finding is not the bug).  Used for the table in docs/explore.md.
#
# usage: tests/explore/bench.sh [BUDGET [SEED [BUG...]]]   (default 5m 1, every bug)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
budget=${1:-5m}
seed=${2:-1}
[ $# -gt 2 ] && shift 2 || set --
[ $# -gt 0 ] || set -- $(ls tests/explore/bugs/*.mutant | sed 's|.*/||; s|\.mutant$||')
out=${EXPLORE_BENCH_OUT:-/tmp/explore-bench}
cutover=${CUTOVER:-bin/cutover}
mkdir -p "$out"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| bug | invariant | found | time to finding | shrink time | steps | replays failed | passes on cutover-relay |"
echo "|---|---|---|---|---|---|---|---|"
for bug in "$@"; do
    inv=$(sed -n 's/^expect: //p' "tests/explore/bugs/$bug.mutant")
    relay=$(tests/explore/build-bugs.sh "$bug")
    rm -rf "$out/$bug"
    "$cutover" explore --relay-bin "$relay" --budget "$budget" --seed "$seed" \
        --stop-when "$inv" --out "$out/$bug" >"$out/$bug.log" 2>&1 || true
    row=$(python3 - "$out/$bug/explore.json" "$inv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["findings"] if x["invariant"] == sys.argv[2]]
if not f:
    print("no | - | - | - | - | %s" % f)
else:
    f = f[0]
    print("yes | %.0f s | %.0f s | %d | %d/%d | %s" % (f["found_after_s"], f["shrink_s"],
          f["steps_after"], f["replays_failed"], f["replays"], f["file"]))
PY
)
    file=${row##* | }
    clean=-
    if [ -f "$file" ]; then
        if "$cutover" run "$file" --out "$out/$bug-clean" >/dev/null 2>&1; then clean=yes; else clean=no; fi
    fi
    echo "| $bug | $inv | ${row% | *} | $clean |"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
