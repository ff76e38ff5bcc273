#!/bin/sh
# The runner's speed targets of issue 17, side by side in one run:
#   1. wall time of the scenario library, `cutover run --jobs 1` vs the
#      default --jobs (target: at most half), interleaved, ROUNDS each;
#   2. the load driver's open-loop accuracy at 20,000 req/s against a mock
#      (bench/traffic_accuracy.c; target: at least 95% of the schedule);
#   3. the driver's maximum closed-loop rate (64 in flight) vs wrk -c64
#      against the same mock (target: at least 80% of wrk's): the driver with
#      1 and with 2 threads (a phase's "threads", BENCH_THREADS) and wrk with
#      -t1 and -t2 in the same rounds, compared like for like (driver N
#      threads vs wrk -tN) and the driver's best vs wrk -t1;
#   4. with BENCH_BASE=REV (a git revision, e.g. main), steps 1-2 also for that
#      revision's build (the "before"), exported to a scratch folder and built
#      there: before and after measured in the same run.
# The machine is shared: every figure comes with the load average, and the
# verdicts are ratios of figures taken minutes apart at most.
# Results go to docs/bench.md between <!-- driver:begin --> and
# <!-- driver:end --> (replacing an earlier run's).
#
# Every process it starts is stopped by PID; nothing else is touched.
# Steps 2-3 also sweep the open-loop rate (after build) for the highest rate
# the driver keeps at 95% or more, and split the CPU of every open-loop run
# between the mock, the driver and everything else on the machine (from
# /proc/PID/stat and /proc/stat): on 2 shared cores, a driver behind its
# schedule is usually a driver without a core.  Their results go between
# <!-- driver-loop:begin --> and <!-- driver-loop:end -->.
# Usage: sh bench/driver.sh [ROUNDS]   (default 3; medians)
#   BENCH_BASE=main     also measure that revision (before)
#   BENCH_REPEAT=N      also run the library with --repeat N (flake hunt) once
#   BENCH_PARTS="loop"  only steps 2-3 (default "library loop")
#   BENCH_SWEEP="5000 10000 15000 20000"   the open-loop rates swept
#   BENCH_THREADS="1 2"  the driver's thread counts (after build; before: 1)
set -eu
PARTS=${BENCH_PARTS:-library loop}
SWEEP=${BENCH_SWEEP:-5000 10000 15000 20000}
THREADS=${BENCH_THREADS:-1 2}
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

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
# What each round measures: a build with a thread count ("after-t2": the
# after build with 2 driver threads; one thread keeps the build's name).
VARIANTS=""
for n in $THREADS; do
    [ "$n" = 1 ] && VARIANTS="$VARIANTS after" || VARIANTS="$VARIANTS after-t$n"
done
if [ -n "${BENCH_BASE:-}" ]; then
    mkdir -p "$TMP/base"
    git archive "$BENCH_BASE" | tar -x -C "$TMP/base"
    log "building $BENCH_BASE in $TMP/base"
    make -C "$TMP/base" -j2 all >/dev/null
    build_acc "$TMP/base" "$TMP/acc.before"
    TREES="before:$TMP/base $TREES"
    VARIANTS="before $VARIANTS"
fi
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)

# ---- the mock every driver figure is taken against ----------------------------------------------
MPORT=$(free_port)
bin/cutover mock --name blue --port "$MPORT" >"$TMP/mock.log" 2>&1 &
PIDS="$PIDS $!"
MOCKPID=$!
MOCK=http://127.0.0.1:$MPORT
wait_http "$MOCK/health"
cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4.1","messages":[{"role":"user","content":"benchmark"}],"max_tokens":16,"stream":false,"user":"wrk"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# busy and total jiffies of the whole machine (/proc/stat's cpu line).
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# One JSON line of traffic_accuracy plus the load average it ran under and
# where the machine's CPU went while it ran (in cores: the mock's from
# /proc/MOCKPID/stat, the driver's from its own getrusage, the machine's
# from /proc/stat; "others" is the rest: other engineers' builds).
acc() { # variant rate dur   (variant: before, after, after-tN)
    l=$(load)
    th=1
    case $1 in *-t*) th=${1##*-t} ;; esac
    set -- "$@" $(machine_jiffies) "$(cpu_ticks "$MOCKPID")" "$(date +%s.%N)"
    j=$("$TMP/acc.${1%%-t*}" "$MOCK" "$2" "$3" uniform "$th")
    set -- "$@" $(machine_jiffies) "$(cpu_ticks "$MOCKPID")" "$(date +%s.%N)"
    echo "$j" | python3 -c '
import json, os, sys
j = json.load(sys.stdin)
a = [float(x) for x in sys.argv[2:]]
b0, t0, m0, w0, b1, t1, m1, w1 = a
hz = os.sysconf("SC_CLK_TCK")
wall = w1 - w0
cores = os.cpu_count()
j["load1"] = float(sys.argv[1])
j["wall_s"] = wall
j["busy_cores"] = cores * (b1 - b0) / (t1 - t0) if t1 > t0 else 0
j["mock_cores"] = (m1 - m0) / hz / wall
j["mock_us_per_req"] = (m1 - m0) / hz * 1e6 / j["sent"] if j["sent"] else 0
j["driver_cores"] = j.get("cpu_us_per_req", 0) * j["sent"] / 1e6 / wall
j["other_cores"] = max(0.0, j["busy_cores"] - j["mock_cores"] - j["driver_cores"])
print(json.dumps(j))' "$l" "$4" "$5" "$6" "$7" "$8" "$9" "${10}" "${11}"
}

# ---- 1. the library: serial vs --jobs -----------------------------------------------------------------
: >"$TMP/lib.txt"
LIB_ROUNDS=$ROUNDS
has_part library || LIB_ROUNDS=0
for k in $(seq 1 "$LIB_ROUNDS"); do
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

# ---- 2 and 3. open loop at 20k, closed loop vs wrk, the rate sweep ---------------------------------------
# Each round, back to back against the one mock: every build's open loop at
# 20,000 req/s, wrk's closed loop, every build's closed loop, then the sweep.
: >"$TMP/open.txt"
: >"$TMP/closed.txt"
: >"$TMP/sweep.txt"
: >"$TMP/closedcpu.txt"
LOOP_ROUNDS=$ROUNDS
has_part loop || LOOP_ROUNDS=0
for k in $(seq 1 "$LOOP_ROUNDS"); do
    for name in $VARIANTS; do
        echo "$name $k $(acc "$name" 20000 2000)" >>"$TMP/open.txt"
        log "open loop 20k $name: $(tail -n1 "$TMP/open.txt" | cut -c1-200)"
    done
    l=$(load)
    line="$k"
    for wt in 1 2; do
        set -- $(machine_jiffies) "$(cpu_ticks "$MOCKPID")" "$(date +%s.%N)"
        /usr/bin/time -f "%U %S" -o "$TMP/wrk.cpu" wrk -t$wt -c64 -d3s -s "$TMP/post.lua" \
            "$MOCK/v1/chat/completions" >"$TMP/wrk.txt" 2>&1 || true
        w=$(awk '/Requests\/sec/ { print $2 + 0 }' "$TMP/wrk.txt")
        wn=$(awk '/ requests in / { print $1 }' "$TMP/wrk.txt")
        wc=$(awk -v n="$wn" '{ printf "%.1f", n ? ($1 + $2) * 1e6 / n : 0 }' "$TMP/wrk.cpu")
        line="$line ${w:-0} $wc"
        [ $wt = 1 ] && line="$line $l"
        # Where the cores went while wrk ran (as acc() has it for the driver).
        set -- "$@" $(machine_jiffies) "$(cpu_ticks "$MOCKPID")" "$(date +%s.%N)"
        awk -v k="$k" -v c="wrk-t$wt" -v hz="$(getconf CLK_TCK)" -v n="$(nproc)" \
            -v b0="$1" -v t0="$2" -v m0="$3" -v w0="$4" -v b1="$5" -v t1="$6" -v m1="$7" -v w1="$8" \
            '{ wall = w1 - w0; busy = t1 > t0 ? n * (b1 - b0) / (t1 - t0) : 0; mock = (m1 - m0) / hz / wall;
               cl = ($1 + $2) / wall; o = busy - mock - cl; if (o < 0) o = 0;
               printf "%s %s %.2f %.2f %.2f %.2f\n", k, c, busy, mock, cl, o }' "$TMP/wrk.cpu" >>"$TMP/closedcpu.txt"
    done
    for name in $VARIANTS; do
        set -- $(acc "$name" c64 3000 | python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["achieved_rps"], j["cpu_us_per_req"], j.get("cpu_send_us_per_req", "-"), "%.2f %.2f %.2f %.2f" % (j["busy_cores"], j["mock_cores"], j["driver_cores"], j["other_cores"]))')
        line="$line $name $1 $2 $3"
        echo "$k $name $4 $5 $6 $7" >>"$TMP/closedcpu.txt"
    done
    echo "$line" >>"$TMP/closed.txt"
    log "closed loop c64 (round wrk_rps load wrk_cpu [build rps cpu cpu_send]...): $line"
    for name in $VARIANTS; do
        [ "$name" = before ] && continue
        for rate in $SWEEP; do
            echo "$name $k $rate $(acc "$name" "$rate" 2000)" >>"$TMP/sweep.txt"
            log "sweep $name $rate: $(tail -n1 "$TMP/sweep.txt" | cut -c1-160)"
        done
    done
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
LOOP_MD=$TMP/loop.md
python3 - "$TMP/open.txt" "$TMP/closed.txt" "$TMP/sweep.txt" "$TMP/closedcpu.txt" >"$LOOP_MD" <<'PY'
import json, statistics, sys

def med(v):
    return statistics.median(v) if v else 0

def spread(v, fmt="%.1f"):
    return (fmt + "-" + fmt) % (min(v), max(v)) if v else "-"

def pct(j):
    return 100 * j["achieved_rps"] / j["target_rps"] if j["target_rps"] else 0

def threads(name):
    return int(name.split("-t")[1]) if "-t" in name else 1

def order(names):
    return sorted(names, key=lambda n: (n != "before", threads(n)))

opens = {}
for line in open(sys.argv[1]):
    name, k, js = line.split(" ", 2)
    j = json.loads(js)
    j["round"] = int(k)
    opens.setdefault(name, []).append(j)
print("## Open loop at 20,000 req/s against the mock")
print()
print("bench/traffic_accuracy.c drives `cutover mock` directly for 2 s (uniform arrivals), each build once")
print("a round, back to back (\"after-tN\": the after build with N driver threads, a phase's \"threads\"). Accuracy = the rate actually sent (first send to last) / the schedule's;")
print("send lag = actual send - scheduled send; latency is measured from the scheduled time (no")
print("coordinated omission). \"behind\" is the runner's own verdict (harness/driver.c: below 95% of")
print("the schedule, or send lag p99 above 50 ms, or the pool full): such a scenario is inconclusive.")
print("CPU µs/req sending = the driver threads' CPU from the start of traffic to the last answer,")
print("per request (answers are read afterwards; the before build does not report it); mock CPU")
print("µs/req the mock's per request (/proc/PID/stat). The last four columns say where the 2 cores")
print("went during the run, in cores: the whole machine (/proc/stat), the mock, the driver")
print("(getrusage, reading answers included) and everything else (other engineers' work).")
print()
print("| build | round | load | accuracy | send lag p50 ms | p99 ms | behind | connections | CPU µs/req sending | mock CPU µs/req | machine busy | mock | driver | others |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for name in order(opens):
    for j in opens.get(name, []):
        cs = j.get("cpu_send_us_per_req")
        print("| %s | %d | %.2f | %.1f%% | %.2f | %.2f | %s | %s | %s | %.1f | %.2f | %.2f | %.2f | %.2f |" % (
            name, j["round"], j["load1"], pct(j), j["send_err_p50_us"] / 1000,
            j["send_err_p99_us"] / 1000, "yes" if j.get("driver_behind") else "no",
            j.get("connects", "-"), "%.1f" % cs if cs is not None else "-", j["mock_us_per_req"],
            j["busy_cores"], j["mock_cores"], j["driver_cores"], j["other_cores"]))
print()
for name in order(opens):
    runs = opens.get(name)
    if not runs:
        continue
    acc = [pct(j) for j in runs]
    lag = [j["send_err_p99_us"] / 1000 for j in runs]
    print("- **%s**: accuracy median **%.1f%%** (spread %s%%), send lag p99 median %.1f ms (%s), %d of %d runs on schedule." % (
        name, med(acc), spread(acc), med(lag), spread(lag), sum(1 for j in runs if not j.get("driver_behind")), len(runs)))
print()
print("## Closed loop: the driver's maximum rate vs wrk")
print()
print("64 requests in flight for 3 s (`wrk -t1 -c64 -d3s` and `wrk -t2 -c64 -d3s`, then")
print("`traffic_accuracy MOCK c64 3000 uniform N` for each build and thread count), back to back")
print("against the same mock. Like for like is the driver with N threads against wrk -tN; the")
print("driver's best is the faster of its thread counts in the round, against wrk -t1.")
print("CPU µs/req is each client's own user+system time per request (the driver's includes")
print("reading every answer after the run, which wrk never does; \"sending\" leaves that out).")
print()
rows = [l.split() for l in open(sys.argv[2])]
names = []
if rows:
    names = [rows[0][i] for i in range(6, len(rows[0]), 4)]
hdr = "| round | load | wrk -t1 req/s | CPU µs/req | wrk -t2 req/s | CPU µs/req |"
for n in names:
    hdr += " %s req/s | / wrk -t1 | / wrk -t%d | CPU µs/req (sending) |" % (n, threads(n))
print(hdr)
print("|" + "---|" * (6 + 4 * len(names)))
vs1 = {n: [] for n in names}
like = {n: [] for n in names}
best = []
for r in rows:
    k, w1, wc1, l, w2, wc2 = r[:6]
    w = {1: float(w1 or 0), 2: float(w2 or 0)}
    out = "| %s | %s | %.0f | %s | %.0f | %s |" % (k, l, w[1], wc1, w[2], wc2)
    top = 0
    for i, n in enumerate(names):
        rps, cpu, cs = r[6 + 4 * i + 1:6 + 4 * i + 4]
        rps = float(rps)
        a = 100 * rps / w[1] if w[1] else 0
        ww = w.get(threads(n), 0)
        b = 100 * rps / ww if ww else 0
        vs1[n].append(a)
        like[n].append(b)
        if n != "before":
            top = max(top, a)
        out += " %.0f | %.1f%% | %s | %s (%s) |" % (rps, a, "%.1f%%" % b if ww else "-", cpu, cs)
    best.append(top)
    print(out)
print()
for n in names:
    if threads(n) in (1, 2):
        print("- **%s / wrk -t%d** (like for like): median **%.1f%%** (spread %s%%)." % (n, threads(n), med(like[n]), spread(like[n])))
    if threads(n) != 1:
        print("- %s / wrk -t1: median %.1f%% (spread %s%%)." % (n, med(vs1[n]), spread(vs1[n])))
print("- **the driver's best (any thread count) / wrk -t1**: median **%.1f%%** (spread %s%%) (target: at least 80%%)." % (med(best), spread(best)))
cpu = [l.split() for l in open(sys.argv[4])]
if cpu:
    print()
    print("Where the %d cores went during each closed-loop run, in cores (/proc/stat for the machine," % __import__("os").cpu_count())
    print("/proc/MOCKPID/stat for the mock, the client's own user+system time; \"others\" is the rest:")
    print("other engineers' work). A client that costs more CPU per request than wrk reaches wrk's")
    print("rate only while the machine has the cores for it and the mock.")
    print()
    print("| round | client | machine busy | mock | client | others |")
    print("|---|---|---|---|---|---|")
    for r in cpu:
        print("| %s | %s | %s | %s | %s | %s |" % tuple(r[:6]))
sweep = {}
for line in open(sys.argv[3]):
    name, k, rate, js = line.split(" ", 3)
    sweep.setdefault((name, int(k)), []).append(json.loads(js))
if sweep:
    rates = sorted({int(j["target_rps"]) for runs in sweep.values() for j in runs})
    print()
    print("## The highest open-loop rate the driver keeps")
    print()
    print("The after build (each thread count) at each rate for 2 s, lowest first, every round (accuracy, and \"B\" where")
    print("the runner judged the driver behind); the highest rate kept at 95% or more, every lower")
    print("rate of the round too (one stall of the machine at a low rate ends the count there).")
    print()
    print("| build | round | load | " + " | ".join("%d req/s" % r for r in rates) + " | highest at >= 95% |")
    print("|" + "---|" * (4 + len(rates)))
    best = {}
    for key in sorted(sweep, key=lambda x: (threads(x[0]), x[1])):
        name, k = key
        by = {int(j["target_rps"]): j for j in sweep[key]}
        b = 0
        for r in rates:
            if r not in by or pct(by[r]) < 95:
                break
            b = r
        best.setdefault(name, []).append(b)
        print("| %s | %d | %.2f | %s | %s |" % (name, k, sweep[key][0]["load1"], " | ".join(
            "%.1f%%%s" % (pct(by[r]), " B" if by[r].get("driver_behind") else "") if r in by else "-" for r in rates), b or "none"))
    print()
    for name in order(best):
        v = best[name]
        print("- %s: median highest rate at >= 95%%: **%d req/s** (spread %d-%d)." % (name, med(v), min(v), max(v)))
PY
LIB_ROWS=$(awk '{ s = $0; for (i = 1; i <= 5; i++) sub(/^[^ ]+ /, "", s); printf "| %s | %s | %s | %s | %s | %s |\n", $1, ($2 == "default" ? "default" : "1"), $3, $4, $5, s }' "$TMP/lib.txt")

# Replaces the block between <!-- NAME:begin and <!-- NAME:end --> in $OUT
# with file (appended when $OUT has none).
write_section() { # name file
    if [ -f "$OUT" ] && grep -q "<!-- $1:begin" "$OUT"; then
        awk -v f="$2" -v b="<!-- $1:begin" -v e="<!-- $1:end" '
            index($0, b) == 1 { while ((getline l < f) > 0) print l; skip = 1; next }
            index($0, e) == 1 { skip = 0; next }
            !skip { print }' "$OUT" >"$TMP/bench.md" && cp "$TMP/bench.md" "$OUT"
    else
        { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$2"; } >"$TMP/bench.md" && cp "$TMP/bench.md" "$OUT"
    fi
    log "wrote $OUT ($1)"
    cat "$2"
}
MEASURED="Measured by \`${BENCH_PARTS:+BENCH_PARTS=\"$BENCH_PARTS\" }${BENCH_BASE:+BENCH_BASE=$BENCH_BASE }sh bench/driver.sh $ROUNDS\` on $STARTED, $(nproc) cores,"

if has_part library; then
SECTION=$TMP/section.md
{
echo "<!-- driver:begin (written by bench/driver.sh; do not edit by hand) -->"
echo
echo "# Runner speed: bench/driver.sh"
echo
echo "$MEASURED"
echo "$(uname -sr). Load average before: $LOAD0; after: $LOAD1. The machine is shared with other"
echo "engineers building and benchmarking: absolute figures move with their load (the load column"
echo "is the 1-minute average when each run started); the verdicts are ratios of runs taken side by side."
echo "The load driver's figures (open and closed loop) are in the next section."
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
echo '```'
echo
echo "<!-- driver:end -->"
} >"$SECTION"
write_section driver "$SECTION"
fi

if has_part loop; then
SECTION=$TMP/loop-section.md
{
echo "<!-- driver-loop:begin (written by bench/driver.sh; do not edit by hand) -->"
echo
echo "# The load driver: bench/driver.sh"
echo
echo "$MEASURED"
echo "$(uname -sr). Load average before: $LOAD0; after: $LOAD1. The machine is shared with other"
echo "engineers building and benchmarking (the load column is the 1-minute average when each run"
echo "started): absolute figures move with their load, so the verdicts are ratios of runs taken"
echo "side by side, and every run is listed. \"before\" is $( [ -n "${BENCH_BASE:-}" ] && echo "\`$BENCH_BASE\`, built in a scratch folder in the same run" || echo "not measured in this run")."
echo
cat "$LOOP_MD"
echo
echo "## Commands"
echo
echo '```sh'
echo "BENCH_PARTS=loop BENCH_BASE=main sh bench/driver.sh $ROUNDS   # this section only, before and after"
echo "# inside: traffic_accuracy MOCK 20000 2000 uniform N           (open loop, each build, N in \$BENCH_THREADS: $THREADS)"
echo "#         wrk -t1 -c64 -d3s -s post.lua MOCK/v1/chat/completions; the same with -t2"
echo "#         traffic_accuracy MOCK c64 3000 uniform N                 (closed loop, each build and N)"
echo "#         traffic_accuracy MOCK RATE 2000 uniform N for RATE in \$BENCH_SWEEP ($SWEEP)"
echo "#         CPU split: /proc/MOCKPID/stat, /proc/stat, the driver's getrusage"
echo '```'
echo
echo "<!-- driver-loop:end -->"
} >"$SECTION"
write_section driver-loop "$SECTION"
fi
