#!/bin/sh
# The runner's speed targets of issue 17, side by side in one run:
#   1. wall time of the scenario library, `cutover run --jobs 1` vs the
#      default --jobs (target: at most half), interleaved, ROUNDS each;
#   2. the load driver's open-loop accuracy at 20,000 req/s against a mock
#      (bench/traffic_accuracy.c; target: at least 95% of the schedule);
#   3. the driver's maximum closed-loop rate (64 in flight) vs wrk -t1 -c64
#      against the same mock (target: at least 80% of wrk's); one thread each,
#      as the driver is one thread;
#   4. with BENCH_BASE=REV (a git revision, e.g. main), steps 1-2 also for that
#      revision's build (the "before"), exported to a scratch folder and built
#      there: before and after measured in the same run.
# The machine is shared: every figure comes with the load average, and the
# verdicts are ratios of figures taken minutes apart at most.
# Results go to docs/bench.md between <!-- driver:begin --> and
# <!-- driver:end --> (replacing an earlier run's).
#
# Every process it starts is stopped by PID; nothing else is touched.
# Usage: sh bench/driver.sh [ROUNDS]   (default 3; medians)
#   BENCH_BASE=main     also measure that revision (before)
#   BENCH_REPEAT=N      also run the library with --repeat N (flake hunt) once
set -eu

ROUNDS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
cd "$ROOT"
OUT=$ROOT/docs/bench.md
TMP=$(mktemp -d /tmp/cutover-driver.XXXXXX)
BENCH_TMP=$TMP
trap bench_cleanup EXIT INT TERM
for t in wrk curl python3 cc git; do need $t; done
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log() { echo "driver: $*" >&2; }
median() { sort -n | awk '{v[NR] = $1} END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { cut -d" " -f1 /proc/loadavg; }

CFL="-std=c11 -D_GNU_SOURCE -O2 -g -I. -Icommon $(pkg-config --cflags libcurl libmicrohttpd jansson)"
LIBS="$(pkg-config --libs libcurl libmicrohttpd jansson) -lev -lm -lpthread"
build_acc() { # tree out
    (cd "$1" && B=build/rel && cc $CFL -o "$2" bench/traffic_accuracy.c $B/libharness.a \
        $B/libreports.a $B/libmock.a $B/libco.a $LIBS)
}

make -j2 all >/dev/null
build_acc "$ROOT" "$TMP/acc.after"
TREES="after:$ROOT"
if [ -n "${BENCH_BASE:-}" ]; then
    mkdir -p "$TMP/base"
    git archive "$BENCH_BASE" | tar -x -C "$TMP/base"
    log "building $BENCH_BASE in $TMP/base"
    make -C "$TMP/base" -j2 all >/dev/null
    build_acc "$TMP/base" "$TMP/acc.before"
    TREES="before:$TMP/base $TREES"
fi
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)

# ---- the mock every driver figure is taken against ----------------------------------------------
MPORT=$(free_port)
bin/cutover mock --name blue --port "$MPORT" >"$TMP/mock.log" 2>&1 &
PIDS="$PIDS $!"
MOCK=http://127.0.0.1:$MPORT
wait_http "$MOCK/health"
cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4.1","messages":[{"role":"user","content":"benchmark"}],"max_tokens":16,"stream":false,"user":"wrk"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# One JSON line of traffic_accuracy plus the load average it ran under.
acc() { # which rate dur
    j=$("$TMP/acc.$1" "$MOCK" "$2" "$3")
    echo "$j" | python3 -c 'import json, sys; j = json.load(sys.stdin); j["load1"] = float(sys.argv[1]); print(json.dumps(j))' "$(load)"
}

# ---- 1. the library: serial vs --jobs -----------------------------------------------------------------
: >"$TMP/lib.txt"
for k in $(seq 1 "$ROUNDS"); do
    for tree in $TREES; do
        name=${tree%%:*} dir=${tree#*:}
        for jobs in 1 default; do
            flag=""
            if [ "$name" = after ]; then
                flag="--jobs 1"
                [ "$jobs" = default ] && flag=""
            elif [ "$jobs" = default ]; then
                continue # the base has no --jobs
            fi
            l=$(load)
            t0=$(date +%s.%N)
            rc=0
            "$dir/bin/cutover" run "$dir/scenarios/" --out "$TMP/lib.$name.$jobs" --no-color $flag \
                >"$TMP/lib.$name.$jobs.txt" 2>&1 || rc=$?
            t1=$(date +%s.%N)
            wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
            sum=$(grep -E 'scenario\(s\):' "$TMP/lib.$name.$jobs.txt" | tail -n1 | sed 's/ in .*//')
            if [ -z "$sum" ]; then
                # No summary: the run itself broke.  Keep its output.
                keep=/tmp/cutover-driver-lib.$name.$jobs.$k.$$.txt
                cp "$TMP/lib.$name.$jobs.txt" "$keep"
                sum="no summary (exit $rc; output kept in $keep)"
            fi
            echo "$name $jobs $wall $rc $l $sum" >>"$TMP/lib.txt"
            log "library $name --jobs $jobs: $wall s, exit $rc, load $l: $sum"
        done
    done
done
# Medians of the runs that finished (exit 0, 1 or 4).
lib_med() { awk -v n="$1" -v j="$2" '$1 == n && $2 == j && ($4 == 0 || $4 == 1 || $4 == 4) {print $3}' "$TMP/lib.txt" | median; }
SER=$(lib_med after 1)
PAR=$(lib_med after default)
LIB_RATIO=$(awk -v a="$PAR" -v b="$SER" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
DEFAULT_JOBS=$(python3 -c 'import os; print(min(2 * os.cpu_count(), 4))')

# ---- 2 and 3. open loop at 20k, closed loop vs wrk -------------------------------------------------------
: >"$TMP/open.txt"
: >"$TMP/closed.txt"
for k in $(seq 1 "$ROUNDS"); do
    for tree in $TREES; do
        name=${tree%%:*}
        echo "$name $(acc "$name" 20000 2000)" >>"$TMP/open.txt"
        log "open loop 20k $name: $(tail -n1 "$TMP/open.txt")"
    done
    l=$(load)
    /usr/bin/time -f "%U %S" -o "$TMP/wrk.cpu" wrk -t1 -c64 -d3s -s "$TMP/post.lua" \
        "$MOCK/v1/chat/completions" >"$TMP/wrk.txt" 2>&1 || true
    w=$(awk '/Requests\/sec/ { print $2 + 0 }' "$TMP/wrk.txt")
    wn=$(awk '/ requests in / { print $1 }' "$TMP/wrk.txt")
    wc=$(awk -v n="$wn" '{ printf "%.1f", n ? ($1 + $2) * 1e6 / n : 0 }' "$TMP/wrk.cpu")
    set -- $(acc after c64 3000 | python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["achieved_rps"], j["cpu_us_per_req"])')
    echo "$w $1 $l $wc $2" >>"$TMP/closed.txt"
    log "closed loop c64: wrk $w req/s ($wc CPU us/req), driver $1 req/s ($2 CPU us/req), load $l"
done
LOAD1=$(cut -d" " -f1-3 /proc/loadavg)

if [ -n "${BENCH_REPEAT:-}" ]; then
    l=$(load)
    t0=$(date +%s.%N)
    rc=0
    bin/cutover run scenarios/ --out "$TMP/rep" --no-color --repeat "$BENCH_REPEAT" >"$TMP/rep.txt" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    REP_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
    REP_SUM=$(grep -E 'scenario\(s\):' "$TMP/rep.txt" | tail -n1)
    REP_FLAKY=$(grep -E 'FLAKY' "$TMP/rep.txt" | awk '{print $4}' | sort -u | tr '\n' ' ')
    REP_RERUN=$(grep -c 're-run' "$TMP/rep.txt" || true)
    REP_LOAD="$l"
    log "repeat $BENCH_REPEAT: $REP_WALL s, exit $rc: $REP_SUM"
fi

# ---- docs/bench.md ---------------------------------------------------------------------------------
OPEN_ROWS=$(python3 - "$TMP/open.txt" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    rows.setdefault(name, []).append(json.loads(js))
for name in ("before", "after"):
    runs = rows.get(name)
    if not runs:
        continue
    runs.sort(key=lambda j: j["achieved_rps"])
    j = runs[len(runs) // 2]
    print("| %s | %d | %.0f (%.1f%%) | %.2f | %.2f | %d | %s | %s | %s | %.1f | %s |" % (
        name, j["target_rps"], j["achieved_rps"], 100 * j["achieved_rps"] / j["target_rps"],
        j["send_err_p50_us"] / 1000, j["send_err_p99_us"] / 1000, j["transport_errors"],
        j.get("connects", "-"), j.get("pool_waits", "-"),
        j.get("cpu_us_per_req", "-"), j["load1"],
        " / ".join("%.0f%%" % (100 * r["achieved_rps"] / r["target_rps"]) for r in sorted(runs, key=lambda r: r["load1"]))))
PY
)
CLOSED=$(awk '{ printf "%s %s %.1f %s %s %s\n", $1, $2, $1 ? 100 * $2 / $1 : 0, $3, $4, $5 }' "$TMP/closed.txt")
CL_RATIO=$(echo "$CLOSED" | awk '{print $3}' | median)
LIB_ROWS=$(awk '{ s = $0; for (i = 1; i <= 5; i++) sub(/^[^ ]+ /, "", s); printf "| %s | %s | %s | %s | %s | %s |\n", $1, ($2 == "default" ? "default" : "1"), $3, $4, $5, s }' "$TMP/lib.txt")

SECTION=$TMP/section.md
{
echo "<!-- driver:begin (written by bench/driver.sh; do not edit by hand) -->"
echo
echo "# Runner speed: bench/driver.sh"
echo
echo "Measured by \`sh bench/driver.sh $ROUNDS\`${BENCH_BASE:+ with \`BENCH_BASE=$BENCH_BASE\`} on $STARTED, $(nproc) cores,"
echo "$(uname -sr). Load average before: $LOAD0; after: $LOAD1. The machine is shared with other"
echo "engineers building and benchmarking: absolute figures move with their load (the load column"
echo "is the 1-minute average when each run started); the verdicts are ratios of runs taken side by side."
echo
echo "## The library: serial vs --jobs"
echo
echo "Wall time of \`cutover run scenarios/\`, rounds interleaved. \"before\" is $( [ -n "${BENCH_BASE:-}" ] && echo "\`$BENCH_BASE\` (serial only: it has no --jobs)" || echo "not measured in this run")."
echo "Default --jobs on this machine: $DEFAULT_JOBS (min(2 x cores, 4))."
echo
echo "| build | --jobs | wall s | exit | load | summary |"
echo "|---|---|---|---|---|---|"
echo "$LIB_ROWS"
echo
echo "Median serial $SER s, median --jobs $DEFAULT_JOBS $PAR s: **--jobs takes $LIB_RATIO of the serial wall time** (target: at most 0.50)."
echo
echo "## Open loop at 20,000 req/s against the mock"
echo
echo "bench/traffic_accuracy.c drives \`cutover mock\` directly for 2 s (uniform arrivals; the before build's"
echo "log holds 20,000 requests, so its runs last 1 s); the median"
echo "of $ROUNDS runs by achieved rate. Send lag = actual send − scheduled send; latency is measured from"
echo "the scheduled time (no coordinated omission). CPU µs/req is the driver's own user+system time per"
echo "request, the figure the machine's load disturbs least."
echo
echo "| build | target req/s | achieved req/s | send lag p50 ms | p99 ms | transport errors | connections opened | waited for a connection | CPU µs/req | load | every run (by load) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
echo "$OPEN_ROWS"
echo
echo "## Closed loop: the driver's maximum rate vs wrk"
echo
echo "64 requests in flight for 3 s, one thread each (\`wrk -t1 -c64 -d3s\`, then"
echo "\`traffic_accuracy MOCK c64 3000\`), back to back against the same mock, $ROUNDS rounds."
echo
echo "| wrk req/s | driver req/s | driver / wrk % | load | wrk CPU µs/req | driver CPU µs/req |"
echo "|---|---|---|---|---|---|"
echo "$CLOSED" | awk '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
echo
echo "Median driver / wrk: **$CL_RATIO%** (target: at least 80%). The driver's CPU per request"
echo "includes reading every answer (JSON) after the run, which wrk never does; the rate is bound by"
echo "libcurl's work per transfer (URL parse, header formatting, allocations) on a shared core."
if [ -n "${BENCH_REPEAT:-}" ]; then
echo
echo "## Flake hunt"
echo
echo "\`cutover run scenarios/ --repeat $BENCH_REPEAT\` (default --jobs), load $REP_LOAD at the start: $REP_WALL s."
echo "\`$REP_SUM\`"
echo "Flaky: ${REP_FLAKY:-none}. Runs re-run after a disturbance: $REP_RERUN."
fi
echo
echo "## Commands"
echo
echo '```sh'
echo "sh bench/driver.sh $ROUNDS                 # all of the above; BENCH_BASE=main adds the before"
echo "# inside: cutover run scenarios/ --jobs 1     vs     cutover run scenarios/   (default --jobs)"
echo "#         build/rel/bench/traffic_accuracy MOCK 20000 2000"
echo "#         wrk -t1 -c64 -d3s -s post.lua MOCK/v1/chat/completions; traffic_accuracy MOCK c64 3000"
echo '```'
echo
echo "<!-- driver:end -->"
} >"$SECTION"
if [ -f "$OUT" ] && grep -q '<!-- driver:begin' "$OUT"; then
    awk -v f="$SECTION" '
        /<!-- driver:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- driver:end/ { skip = 0; next }
        !skip { print }' "$OUT" >"$TMP/bench.md" && cp "$TMP/bench.md" "$OUT"
else
    { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$SECTION"; } >"$TMP/bench.md" && cp "$TMP/bench.md" "$OUT"
fi
log "wrote $OUT"
cat "$SECTION"
