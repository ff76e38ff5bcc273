#!/bin/sh
# Benchmark of a relay fleet sharing its state through Redis (--shared),
# beside a lone relay, in one run and in front of the same upstream (a
# cutover mock answering at once), all on this machine's loopback:
#   solo         wrk -> 1 cutover-relay, local limiter
#   solo+redis   wrk -> 1 cutover-relay --shared (every request asks Redis)
#   fleet        3 wrk -> 3 cutover-relay --shared, one Redis
# wrk: 63-64 keep-alive connections in all (the fleet's split 21 per
# replica), POST /v1/chat/completions, with a limit too high to refuse, so
# the limiter's work is measured and not its refusals.  Then:
#   - the latency one Redis round trip adds: wrk -c1 (one request at a time)
#     against solo and solo+redis, p50 and p99 difference;
#   - rate-limit accuracy at the highest rate this machine reaches: LIMIT
#     requests per 60 s window for one client, the fleet driven flat out
#     for DUR s (less than the window): admitted (read off the replicas'
#     metrics) against LIMIT, for 3 replicas with --shared and, as the
#     control, 3 without.
# Prints a Markdown table; `--append FILE` also appends it (with the
# commands) to FILE.
#
# Usage: sh bench/fleet.sh [--duration S] [--limit N] [--append docs/bench-fleet.md]
# Everything listens on 127.0.0.1; every process started here is stopped by
# PID on exit.
set -eu

DUR=10
LIMIT=10000
APPEND=""
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DUR=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --append) APPEND=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--limit N] [--append FILE]" >&2; exit 2 ;;
    esac
done
[ "$DUR" -ge 1 ] && [ "$DUR" -le 55 ] || { echo "bench: --duration must be 1..55 (inside the 60 s window)" >&2; exit 2; }

. "$(dirname "$0")/lib.sh"
BIN=${CUTOVER_BIN:-bin}
need wrk
need redis-server
need redis-cli

WORK=$(mktemp -d /tmp/cutover-fleet.XXXXXX)
BENCH_TMP=$WORK
trap bench_cleanup EXIT INT TERM

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$WORK/redis.out" 2>&1 &
PIDS="$PIDS $!"
i=0
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "bench: redis-server did not start" >&2; cat "$WORK/redis.out" >&2; exit 3; }
    sleep 0.05
done
SHARED="redis://127.0.0.1:$REDIS_PORT"

"$BIN/cutover" mock --name blue --port 0 --journal-cap 1000 >"$WORK/blue.out" 2>"$WORK/blue.err" &
PIDS="$PIDS $!"
BLUE=$(wait_url "$WORK/blue.out")
"$BIN/cutover" mock --name green --port 0 --journal-cap 1000 >"$WORK/green.out" 2>"$WORK/green.err" &
PIDS="$PIDS $!"
GREEN=$(wait_url "$WORK/green.out")

wrk_post_lua "$WORK/post.lua"

# Starts one replica (name, then its extra flags); sets URL and LAST_PID.
# Not in a subshell, so that PIDS keeps it.
N=0
relay() { # name flag...
    name=$1; shift
    "$BIN/cutover-relay" --port 0 --blue-url "$BLUE/v1" --green-url "$GREEN/v1" --api-key sk-bench \
        --health-interval-ms 0 --log-level warn "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    LAST_PID=$!
    PIDS="$PIDS $LAST_PID"
    URL=$(wait_url "$WORK/$name.out")
}

# Stops the given replicas by PID (SIGTERM, bounded wait).
stop() { # pid...
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for p in "$@"; do
        i=0
        while bench_alive "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    done
}

# wrk against urls in parallel, c connections each: "rps p50_ms p99_ms non2xx"
# (requests/s summed, latencies the mean of the wrk processes').
run_wrk() { # seconds conns url...
    d=$1 c=$2; shift 2
    k=0 wpids=""
    for u in "$@"; do
        wrk -t1 -c"$c" -d"${d}s" --latency -s "$WORK/post.lua" "$u/v1/chat/completions" >"$WORK/wrk.$k" 2>&1 &
        wpids="$wpids $!"
        k=$((k + 1))
    done
    for p in $wpids; do wait "$p" || true; done
    rps=0 p50=0 p99=0 bad=0 k=0
    for u in "$@"; do
        f="$WORK/wrk.$k"
        set -- $(wrk_summary "$f")
        rps=$(awk -v s="$rps" -v v="$1" 'BEGIN {printf "%.0f", s + v}')
        p50=$(awk -v s="$p50" -v v="$2" 'BEGIN {print s + v}')
        p99=$(awk -v s="$p99" -v v="$3" 'BEGIN {print s + v}')
        bad=$((bad + $4))
        k=$((k + 1))
    done
    echo "$rps $(awk -v s="$p50" -v n="$k" 'BEGIN {printf "%.3f", s / n}') $(awk -v s="$p99" -v n="$k" 'BEGIN {printf "%.3f", s / n}') $bad"
}

# Admitted requests of a replica: limiter decisions minus refusals, off
# /api/metrics (the shared counters when --shared, else the proxied count).
admitted() { # url
    curl -s "$1/api/metrics" | python3 -c '
import json, sys
m = json.load(sys.stdin)
env = m.get("environments", {})
print(sum(int(e.get("total_requests", 0)) for e in env.values()))'
}
local_decisions() { # url
    curl -s "$1/api/metrics" | python3 -c '
import json, sys
s = json.load(sys.stdin).get("shared") or {}
print(s.get("rate_limit", {}).get("local", 0) + s.get("rate_limit", {}).get("refused", 0))'
}

HIGH="--rate-limit-requests 100000000 --rate-limit-window-ms 60000"
CONNS=64
PER=$((CONNS / 3))

# --- throughput and latency -------------------------------------------------
relay solo $HIGH; SOLO=$URL; SOLO_PID=$LAST_PID
relay solo_redis $HIGH --shared "$SHARED" --shared-prefix "bench-solo:"; SOLOR=$URL; SOLOR_PID=$LAST_PID
relay f1 $HIGH --shared "$SHARED" --shared-prefix "bench-fleet:"; F1=$URL; F1_PID=$LAST_PID
relay f2 $HIGH --shared "$SHARED" --shared-prefix "bench-fleet:"; F2=$URL; F2_PID=$LAST_PID
relay f3 $HIGH --shared "$SHARED" --shared-prefix "bench-fleet:"; F3=$URL; F3_PID=$LAST_PID

for u in "$SOLO" "$SOLOR" "$F1" "$F2" "$F3"; do # warm up every path
    wrk -t1 -c8 -d1s -s "$WORK/post.lua" "$u/v1/chat/completions" >/dev/null
done
SOLO_R=$(run_wrk "$DUR" "$CONNS" "$SOLO")
SOLOR_R=$(run_wrk "$DUR" "$CONNS" "$SOLOR")
FLEET_R=$(run_wrk "$DUR" "$PER" "$F1" "$F2" "$F3")
SER_SOLO=$(run_wrk 5 1 "$SOLO")
SER_SOLOR=$(run_wrk 5 1 "$SOLOR")
FALLBACKS=0
for u in "$SOLOR" "$F1" "$F2" "$F3"; do
    FALLBACKS=$((FALLBACKS + $(local_decisions "$u")))
done
stop "$SOLO_PID" "$SOLOR_PID" "$F1_PID" "$F2_PID" "$F3_PID"

# --- rate-limit accuracy at the highest rate --------------------------------
# One client (wrk, from 127.0.0.1, no key), LIMIT per 60 s, DUR s flat out.
LIM="--rate-limit-requests $LIMIT --rate-limit-window-ms 60000"
acc_run() { # shared(0|1) -> "admitted requests_sent"
    pids="" urls=""
    for n in 1 2 3; do
        if [ "$1" = 1 ]; then
            relay "acc$1$n" $LIM --shared "$SHARED" --shared-prefix "bench-acc:"
        else
            relay "acc$1$n" $LIM
        fi
        pids="$pids $LAST_PID" urls="$urls $URL"
    done
    # shellcheck disable=SC2086
    r=$(run_wrk "$DUR" "$PER" $urls)
    sent=0
    for k in 0 1 2; do
        sent=$((sent + $(awk '/requests in/ {print $1}' "$WORK/wrk.$k")))
    done
    adm=0
    for u in $urls; do adm=$((adm + $(admitted "$u"))); done
    # shellcheck disable=SC2086
    stop $pids
    echo "$adm $sent $(echo "$r" | cut -d' ' -f1)"
}
ACC_SHARED=$(acc_run 1)
ACC_LOCAL=$(acc_run 0)

# --- the table -------------------------------------------------------------
set -- $SOLO_R; S_RPS=$1 S_P50=$2 S_P99=$3 S_BAD=$4
set -- $SOLOR_R; R_RPS=$1 R_P50=$2 R_P99=$3 R_BAD=$4
set -- $FLEET_R; F_RPS=$1 F_P50=$2 F_P99=$3 F_BAD=$4
set -- $SER_SOLO; Q_P50=$2 Q_P99=$3
set -- $SER_SOLOR; QR_P50=$2 QR_P99=$3
set -- $ACC_SHARED; AS_ADM=$1 AS_SENT=$2 AS_RPS=$3
set -- $ACC_LOCAL; AL_ADM=$1 AL_SENT=$2 AL_RPS=$3
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; }
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

TABLE=$(cat <<EOF
| run | replicas | requests/s | vs solo | p50 ms | p99 ms | non-2xx |
|---|---:|---:|---:|---:|---:|---:|
| solo (local limiter) | 1 | $S_RPS | 1.00 | $S_P50 | $S_P99 | $S_BAD |
| solo + Redis | 1 | $R_RPS | $(ratio "$R_RPS" "$S_RPS") | $R_P50 | $R_P99 | $R_BAD |
| fleet + Redis | 3 | $F_RPS | $(ratio "$F_RPS" "$S_RPS") | $F_P50 | $F_P99 | $F_BAD |

| one request at a time (wrk -c1, 5 s) | p50 ms | p99 ms |
|---|---:|---:|
| solo | $Q_P50 | $Q_P99 |
| solo + Redis | $QR_P50 | $QR_P99 |
| added by the Redis round trip | $(diff_ms "$QR_P50" "$Q_P50") | $(diff_ms "$QR_P99" "$Q_P99") |

| rate limit $LIMIT / 60 s, one client, ${DUR} s flat out | requests sent | requests/s | admitted | admitted / limit |
|---|---:|---:|---:|---:|
| 3 replicas, --shared | $AS_SENT | $AS_RPS | $AS_ADM | $(ratio "$AS_ADM" "$LIMIT") |
| 3 replicas, local limiters (control) | $AL_SENT | $AL_RPS | $AL_ADM | $(ratio "$AL_ADM" "$LIMIT") |

Decisions taken without Redis during the shared runs (fallbacks): $FALLBACKS.
Load average at the end: $LOAD.
EOF
)
echo "$TABLE"
if [ -n "$APPEND" ]; then
    {
        echo
        echo "## Run of $(date -u '+%Y-%m-%d %H:%M UTC') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
        echo
        echo '```'
        echo "sh bench/fleet.sh --duration $DUR --limit $LIMIT --append $APPEND"
        echo '```'
        echo
        echo "$TABLE"
    } >>"$APPEND"
fi
