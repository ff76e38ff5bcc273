#!/bin/sh
# Before/after benchmark of two cutover-relay binaries in one run, the way
# bench/relay.sh measures one (wrk -t2 -c64 keep-alive POST
# /v1/chat/completions through the relay to a zero-latency cutover mock,
# same relay flags): both relays run side by side in front of the same two
# mocks and take turns, A B A B ..., so that the drift of a shared machine
# falls on both alike.  Prints requests/s per round (with wrk's non-2xx
# and socket errors), the medians and the
# ratio after/before; with BENCH_CALLGRIND=1 (the default when valgrind is
# there) also instructions per request of each over a fixed number of
# requests, twice, which load barely moves.
#
# Usage: sh bench/relay-ab.sh --baseline OLD_RELAY_BIN [--relay NEW_RELAY_BIN]
#                             [--rounds N] [--duration S]
# (--relay defaults to $CUTOVER_BIN/cutover-relay, CUTOVER_BIN to bin.)
# Everything listens on 127.0.0.1; every process started here is stopped by
# PID on exit.
set -eu

ROUNDS=5
DUR=5
BASE=""
BIN=${CUTOVER_BIN:-bin}
NEW="$BIN/cutover-relay"
while [ $# -gt 0 ]; do
    case "$1" in
    --baseline) BASE=$2; shift 2 ;;
    --relay) NEW=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    *) echo "usage: $0 --baseline BIN [--relay BIN] [--rounds N] [--duration S]" >&2; exit 2 ;;
    esac
done
[ -n "$BASE" ] && [ -x "$BASE" ] || { echo "bench: --baseline BIN: an executable relay is needed" >&2; exit 2; }
[ -x "$NEW" ] || { echo "bench: --relay $NEW is not executable" >&2; exit 2; }

. "$(dirname "$0")/lib.sh"
need wrk

WORK=$(mktemp -d /tmp/cutover-bench-ab.XXXXXX)
BENCH_TMP=$WORK
trap bench_cleanup EXIT INT TERM

"$BIN/cutover" mock --name blue --port 0 --journal-cap 1000 >"$WORK/mock.out" 2>"$WORK/mock.err" &
PIDS="$PIDS $!"
MOCK=$(wait_url "$WORK/mock.out")
"$BIN/cutover" mock --name green --port 0 --journal-cap 1000 >"$WORK/mock2.out" 2>"$WORK/mock2.err" &
PIDS="$PIDS $!"
MOCK2=$(wait_url "$WORK/mock2.out")

# Started here, not in a $(...) subshell: PIDS must learn their PIDs, or
# bench_cleanup would leave them running.
start_relay() { # bin tag
    "$1" --port 0 --blue-url "$MOCK/v1" --green-url "$MOCK2/v1" --api-key sk-bench \
        --rate-limit-requests 0 --health-interval-ms 0 >"$WORK/$2.out" 2>"$WORK/$2.err" &
    PIDS="$PIDS $!"
}
start_relay "$BASE" before
start_relay "$NEW" after
A=$(wait_url "$WORK/before.out")
B=$(wait_url "$WORK/after.out")

wrk_post_lua "$WORK/post.lua"

rps() { # url -> "requests/s errors" (non-2xx responses and socket errors)
    wrk -t2 -c64 -d"${DUR}s" -s "$WORK/post.lua" "$1/v1/chat/completions" |
        wrk_summary - | awk '{print $1, $4}'
}

for u in "$A" "$B"; do
    wrk -t1 -c8 -d1s -s "$WORK/post.lua" "$u/v1/chat/completions" >/dev/null
done
echo "before: $BASE at $A; after: $NEW at $B"
echo
echo "| round | before (req/s) | after (req/s) | after/before | errors before, after |"
echo "|---|---|---|---|---|"
: >"$WORK/a" && : >"$WORK/b"
i=1
while [ $i -le "$ROUNDS" ]; do
    # Alternate who goes first, so neither always runs on a warmer machine.
    if [ $((i % 2)) = 1 ]; then ra=$(rps "$A"); rb=$(rps "$B"); else rb=$(rps "$B"); ra=$(rps "$A"); fi
    set -- $ra $rb
    echo "$1" >>"$WORK/a"
    echo "$3" >>"$WORK/b"
    awk -v i=$i -v a="$1" -v b="$3" -v ea="$2" -v eb="$4" \
        'BEGIN {printf "| %d | %.0f | %.0f | %.3f | %d, %d |\n", i, a, b, b / a, ea, eb}'
    i=$((i + 1))
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
MA=$(median "$WORK/a")
MB=$(median "$WORK/b")
awk -v a="$MA" -v b="$MB" 'BEGIN {printf "| median | %.0f | %.0f | **%.3f** | |\n", a, b, b / a}'

if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    # Instructions per proxied request: a relay under callgrind serving a
    # fixed CG_REQS requests (wrk -t2 -c16, each thread stops after half),
    # minus the same relay started and stopped idle, over the requests
    # served.  A fixed count, not a fixed time: on a loaded machine a timed
    # run counts the loop's extra turns while wrk waits for a core.
    CG_REQS=${BENCH_CG_REQS:-4000}
    cat >"$WORK/count.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}'
wrk.headers["Content-Type"] = "application/json"
local n = 0
function response(status, headers, body)
    n = n + 1
    if n >= $((CG_REQS / 2)) then wrk.thread:stop() end
end
LUA
    cg_run() { # bin load(0|1) -> "Ir requests"
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
            "$1" --port 0 --blue-url "$MOCK/v1" --green-url "$MOCK2/v1" --api-key sk-bench \
            --rate-limit-requests 0 --health-interval-ms 0 >"$WORK/cg.out" 2>"$WORK/cg.err" &
        p=$!
        PIDS="$PIDS $p"
        u=$(wait_url "$WORK/cg.out")
        reqs=0
        if [ "$2" = 1 ]; then
            wrk -t2 -c16 -d120s -s "$WORK/count.lua" "$u/v1/chat/completions" >"$WORK/cg.wrk" 2>&1 || true
            reqs=$(awk '/requests in/ {print $1}' "$WORK/cg.wrk")
        fi
        kill -TERM $p
        wait $p 2>/dev/null || true
        echo "$(awk '/^summary:/ {print $2}' "$WORK"/cg.$p) $reqs"
        rm -f "$WORK"/cg.$p "$WORK/cg.out"
    }
    per_req() { # bin -> Ir/request
        set -- $(cg_run "$1" 0) $(cg_run "$1" 1)
        awk -v idle="$1" -v busy="$3" -v n="$4" 'BEGIN { if (n > 0) printf "%.0f", (busy - idle) / n; else print "n/a" }'
    }
    for k in 1 2; do
        IA=$(per_req "$BASE")
        IB=$(per_req "$NEW")
        awk -v k=$k -v a="$IA" -v b="$IB" \
            'BEGIN {printf "| instructions/request (%d) | %s | %s | %.3f | |\n", k, a, b, (a > 0 ? b / a : 0)}'
    done
fi
