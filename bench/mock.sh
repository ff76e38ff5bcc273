#!/bin/sh
# Benchmarks the mock's non-streaming endpoint against nginx answering the
# same body with `return 200` (2 workers), in the same run and on the same
# machine, with wrk: 16 and 64 keep-alive connections, then the mock with a
# fixed 50 ms delay at 1,000 connections, then (if valgrind is present)
# instructions per request under callgrind for both.  The throughput and
# delay runs are repeated ROUNDS times, mock and nginx interleaved, and
# reported as median and spread with each run's CPU per request (the
# machine is shared, so one run says little).  Writes its section of
# docs/bench.md (between the mock:begin and mock:end markers).
#
# Every process it starts is stopped by PID; nothing else is touched.
# Usage: sh bench/mock.sh [DURATION_S [ROUNDS]]   (default 5 s, 3 rounds;
#        BENCH_CALLGRIND=0 skips callgrind; BENCH_BEFORE_BIN=DIR adds DIR/cutover
#        as "mock-before" to every round and to callgrind, for a before/after
#        side by side: build the old commit in a worktree and point at its bin/)
set -eu

DUR=${1:-5}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
BIN=${CUTOVER_BIN:-$ROOT/bin}/cutover
OUT=$ROOT/docs/bench.md
TMP=$(mktemp -d /tmp/cutover-bench.XXXXXX)
BENCH_TMP=$TMP

trap bench_cleanup EXIT INT TERM

need wrk
need nginx
need curl
[ -x "$BIN" ] || { echo "bench: $BIN missing (run make)" >&2; exit 3; }

REQ='{"model":"gpt-4.1","messages":[{"role":"user","content":"benchmark"}]}'
wrk_post_lua "$TMP/post.lua" "$REQ"

# wrk's summary -> "rps p50_ms p99_ms errors"
wrk_sum() { wrk_summary "$1" | awk '{print $1, $2, $3, $4}'; } # file (bench/lib.sh)

# user and system ticks (1/100 s) of a process and its children: "user sys"
ticks() { # pid
    u=0 s=0
    for q in $1 $(cat /proc/$1/task/*/children 2>/dev/null); do
        set -- $(awk '{print $14, $15}' /proc/$q/stat 2>/dev/null || echo 0 0)
        u=$((u + $1)) s=$((s + $2))
    done
    echo $u $s
}

# Nanoseconds the threads of a process and of its children spent ready to
# run but waiting for a core (the second field of /proc/TID/schedstat): on
# this shared machine, what a one-thread server loses to everyone else.
waits() { # pid
    w=0
    for q in $1 $(cat /proc/$1/task/*/children 2>/dev/null); do
        for f in /proc/$q/task/*/schedstat; do
            v=$(awk '{print $2}' "$f" 2>/dev/null || echo 0)
            w=$((w + ${v:-0}))
        done
    done
    echo $w
}

# One wrk run against a server -> "rps p50 p99 errors user_us sys_us wrk_us wait_ms_per_s"
# (CPU microseconds per request of the server, user and system, and of wrk;
# milliseconds per second the server's threads waited for a core).
wrk_run() { # conns url server_pid
    w0=$(waits "$3")
    set -- "$1" "$2" "$3" $(ticks "$3")
    wrk -t2 -c"$1" -d"${DUR}s" --timeout 10s --latency -s "$TMP/post.lua" "$2" >"$TMP/wrk.txt" 2>&1 &
    wp=$!
    PIDS="$PIDS $wp"
    wt=0
    while bench_alive $wp; do
        t=$(awk '{print $14 + $15}' /proc/$wp/stat 2>/dev/null || echo "$wt")
        wt=${t:-$wt}
        sleep 0.2
    done
    # A zombie keeps its times until it is reaped.
    t=$(awk '{print $14 + $15}' /proc/$wp/stat 2>/dev/null || echo "$wt")
    wt=${t:-$wt}
    wait $wp || true
    w1=$(waits "$3")
    set -- "$@" $(ticks "$3") $(wrk_sum "$TMP/wrk.txt")
    # $4 $5 before, $6 $7 after, $8.. wrk summary
    awk -v u=$(($6 - $4)) -v s=$(($7 - $5)) -v w="$wt" -v rps="$8" -v p50="$9" -v p99="${10}" -v err="${11}" -v d="$DUR" -v q=$((w1 - w0)) '
        BEGIN { n = rps * d; if (n < 1) n = 1
                printf "%s %s %s %s %.1f %.1f %.1f %.0f\n", rps, p50, p99, err, u * 1e4 / n, s * 1e4 / n, w * 1e4 / n, q / 1e6 / d }'
}

median() { sort -n | awk '{v[NR] = $1} END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END { printf "%s-%s", lo, hi }'; }

# --- the mock -----------------------------------------------------------------
"$BIN" mock --name bench --port 0 --journal-cap 1000 >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!
PIDS="$PIDS $MOCK_PID"
MOCK=$(wait_url "$TMP/mock.out")
# The same build with two worker threads (as many as nginx's workers here),
# in the same rounds, so one thread and two are seen side by side.
"$BIN" mock --name bench --port 0 --journal-cap 1000 --threads 2 >"$TMP/mock2.out" 2>"$TMP/mock2.err" &
MOCK2_PID=$!
PIDS="$PIDS $MOCK2_PID"
MOCK2=$(wait_url "$TMP/mock2.out")
SERVERS="mock mock-t2"
if [ -n "${BENCH_BEFORE_BIN:-}" ]; then
    "$BENCH_BEFORE_BIN/cutover" mock --name bench --port 0 --journal-cap 1000 >"$TMP/before.out" 2>"$TMP/before.err" &
    BEFORE_PID=$!
    PIDS="$PIDS $BEFORE_PID"
    BEFORE=$(wait_url "$TMP/before.out")
    SERVERS="mock-before mock mock-t2"
    BEFORE_REV=${BENCH_BEFORE_REV:-$(git -C "$BENCH_BEFORE_BIN/.." rev-parse --short HEAD 2>/dev/null || echo "?")}
fi
BODY=$(curl -s -X POST -H 'Content-Type: application/json' -d "$REQ" "$MOCK/v1/chat/completions")
[ -n "$BODY" ] || { echo "bench: mock gave no body" >&2; exit 3; }

# --- nginx answering the same body --------------------------------------------
NPORT=$(free_port)
mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NPORT;
        location / {
            default_type application/json;
            return 200 '$BODY';
        }
    }
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
NGINX_PID=$!
PIDS="$PIDS $NGINX_PID"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$NPORT/" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
NBODY=$(curl -s -X POST -d "$REQ" "http://127.0.0.1:$NPORT/v1/chat/completions")
[ "$NBODY" = "$BODY" ] || { echo "bench: nginx body differs" >&2; exit 3; }

LOAD=$(cut -d" " -f1-3 /proc/loadavg)
echo "bench: mock $MOCK, nginx http://127.0.0.1:$NPORT, ${DUR}s per run, $ROUNDS rounds" >&2
# Rounds interleave the servers (at 16 connections: mock, nginx; the same
# at 64; then the mock delayed at 1,000), so a burst of load from others
# hits both sides.  RUNS gets one row per run:
# round conns server load rps p50 p99 errors user_us sys_us wrk_us wait_ms_per_s
RUNS="" THREADS_DURING="" THREADS2_DURING=""
THREADS_BEFORE=$(awk '/^Threads/ {print $2}' /proc/$MOCK_PID/status)
run_one() { # round conns server url pid
    x=$(wrk_run "$2" "$4/v1/chat/completions" "$5")
    RUNS="$RUNS$1 $2 $3 $(cut -d" " -f1 /proc/loadavg) $x
"
    echo "bench: round $1 c=$2 $3 [$x]" >&2
}
r=1
while [ $r -le "$ROUNDS" ]; do
    curl -s -X PUT -d '{}' "$MOCK/_mock/behavior" >/dev/null
    curl -s -X PUT -d '{}' "$MOCK2/_mock/behavior" >/dev/null
    [ -z "${BEFORE:-}" ] || curl -s -X PUT -d '{}' "$BEFORE/_mock/behavior" >/dev/null
    for c in 16 64; do
        [ -z "${BEFORE:-}" ] || run_one $r $c mock-before "$BEFORE" "$BEFORE_PID"
        run_one $r $c mock "$MOCK" "$MOCK_PID"
        run_one $r $c mock-t2 "$MOCK2" "$MOCK2_PID"
        run_one $r $c nginx "http://127.0.0.1:$NPORT" "$NGINX_PID"
    done
    # --- 50 ms fixed delay at 1,000 connections --------------------------------
    curl -s -X PUT -d '{"latency":{"fixed_ms":50}}' "$MOCK/_mock/behavior" >/dev/null
    curl -s -X PUT -d '{"latency":{"fixed_ms":50}}' "$MOCK2/_mock/behavior" >/dev/null
    [ -z "${BEFORE:-}" ] || curl -s -X PUT -d '{"latency":{"fixed_ms":50}}' "$BEFORE/_mock/behavior" >/dev/null
    [ -z "${BEFORE:-}" ] || run_one $r 1000 mock-before "$BEFORE" "$BEFORE_PID"
    (sleep 2 && awk '/^Threads/ {print $2}' /proc/$MOCK_PID/status >"$TMP/threads") &
    tp=$!
    run_one $r 1000 mock "$MOCK" "$MOCK_PID"
    wait $tp 2>/dev/null || true
    THREADS_DURING=$(cat "$TMP/threads" 2>/dev/null || echo "?")
    (sleep 2 && awk '/^Threads/ {print $2}' /proc/$MOCK2_PID/status >"$TMP/threads2") &
    tp=$!
    run_one $r 1000 mock-t2 "$MOCK2" "$MOCK2_PID"
    wait $tp 2>/dev/null || true
    THREADS2_DURING=$(cat "$TMP/threads2" 2>/dev/null || echo "?")
    r=$((r + 1))
done
curl -s -X PUT -d '{}' "$MOCK/_mock/behavior" >/dev/null
curl -s -X PUT -d '{}' "$MOCK2/_mock/behavior" >/dev/null

# field k of the runs of server s at c connections, one a line
col() { printf %s "$RUNS" | awk -v c="$1" -v s="$2" -v k="$3" '$2 == c && $3 == s { print $k }'; }
# server s / nginx per round at c connections, in %
ratio() { printf %s "$RUNS" | awk -v c="$1" -v s="$2" '
    $2 == c && $3 == s { a[$1] = $5 } $2 == c && $3 == "nginx" { b[$1] = $5 }
    END { for (r in a) if (b[r]) printf "%.0f\n", 100 * a[r] / b[r] }'; }
SUMMARY=""
for c in 16 64; do
    for sv in $SERVERS nginx; do
        q="n/a"
        [ $sv = nginx ] || q="**$(ratio $c $sv | median)%** ($(ratio $c $sv | spread)%)"
        SUMMARY="$SUMMARY| $c | $sv | $(col $c $sv 5 | median) ($(col $c $sv 5 | spread)) | $(col $c $sv 6 | median) | $(col $c $sv 7 | median) | $(col $c $sv 9 | median) + $(col $c $sv 10 | median) | $(col $c $sv 11 | median) | $(col $c $sv 12 | median) | $q |
"
    done
done
DSUMMARY=""
for sv in $SERVERS; do
    DSUMMARY="$DSUMMARY| $sv | $(col 1000 $sv 5 | median) ($(col 1000 $sv 5 | spread)) | $(col 1000 $sv 6 | median) | **$(col 1000 $sv 7 | median)** ($(col 1000 $sv 7 | spread)) | $(col 1000 $sv 8 | awk '{s += $1} END {print s + 0}') | $(col 1000 $sv 9 | median) + $(col 1000 $sv 10 | median) | $(col 1000 $sv 12 | median) ($(col 1000 $sv 12 | spread)) |
"
done

# --- callgrind: instructions per request ----------------------------------------
CG_MOCK="n/a" CG_NGINX="n/a" CG_BEFORE="n/a"
if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    CG_DUR=${BENCH_CG_DUR:-20}
    # Ir of a server under wrk for CG_DUR seconds, minus Ir of the same server
    # started and stopped idle, divided by the requests wrk completed.  An idle
    # server sleeps in epoll_wait, so its cost does not grow with time.
    cg_run() { # kind load(0|1) -> "Ir requests"
        kind=$1
        if [ "$kind" != nginx ]; then
            cgbin=$BIN
            [ "$kind" = mock ] || cgbin=$BENCH_BEFORE_BIN/cutover
            valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" \
                "$cgbin" mock --name cg --port 0 --journal-cap 1000 >"$TMP/cg.out" 2>"$TMP/cg.err" &
            p=$!
            PIDS="$PIDS $p"
            u=$(wait_url "$TMP/cg.out")
        else
            port=$(free_port)
            sed -e "s/^worker_processes 2;/worker_processes 1;/" \
                -e "s/listen 127.0.0.1:$NPORT/listen 127.0.0.1:$port/" \
                -e "s|^pid .*|pid $TMP/nginx/cg.pid;|" "$TMP/nginx/nginx.conf" >"$TMP/nginx/cg.conf"
            valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" \
                nginx -p "$TMP/nginx" -c "$TMP/nginx/cg.conf" -g 'daemon off; master_process off;' \
                2>"$TMP/cg.err" &
            p=$!
            PIDS="$PIDS $p"
            u="http://127.0.0.1:$port"
            i=0
            until curl -s -o /dev/null "$u/" || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
        fi
        reqs=0
        if [ "$2" = 1 ]; then
            wrk -t2 -c16 -d"${CG_DUR}s" -s "$TMP/post.lua" "$u/v1/chat/completions" >"$TMP/cg.wrk" 2>&1 || true
            reqs=$(awk '/requests in/ {print $1}' "$TMP/cg.wrk")
        fi
        if [ "$kind" != nginx ]; then kill -TERM $p; else kill -QUIT $p; fi
        wait $p 2>/dev/null || true
        echo "$(awk '/^summary:/ {print $2}' "$TMP"/cg.$p) $reqs"
        rm -f "$TMP"/cg.$p
    }
    per_req() { # kind -> Ir/request
        k=$1
        set -- $(cg_run "$1" 0) $(cg_run "$1" 1)
        # A run that left no summary (valgrind killed, say) gives no figure.
        if [ $# -lt 4 ]; then
            echo "bench: callgrind of $k gave no summary" >&2
            echo "n/a"
            return 0
        fi
        echo "$1 $3 $4" >&2
        awk -v idle="$1" -v busy="$3" -v n="$4" 'BEGIN { if (n > 0) printf "%.0f (%d requests)", (busy - idle) / n, n; else print "n/a" }'
    }
    CG_MOCK=$(per_req mock)
    [ -z "${BEFORE:-}" ] || CG_BEFORE=$(per_req mock-before)
    CG_NGINX=$(per_req nginx)
    echo "bench: callgrind Ir/request: mock $CG_MOCK, nginx $CG_NGINX" >&2
fi

# --- docs/bench.md: our section between markers ------------------------------------
SECTION=$TMP/section.md
{
    echo "<!-- mock:begin (written by bench/mock.sh; do not edit by hand) -->"
    echo
    echo "# Mock benchmark"
    echo
    echo "Measured by \`sh bench/mock.sh $DUR $ROUNDS\` (\`make bench\`) on $(date -u +%Y-%m-%dT%H:%MZ),"
    echo "$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)),"
    echo "load average before the run: $LOAD, after: $(cut -d" " -f1-3 /proc/loadavg)"
    echo "(the machine is shared with other engineers' builds and tests; wrk and the server under"
    echo "test share its 2 cores too)."
    echo
    echo "Request: \`POST /v1/chat/completions\` with \`$REQ\`;"
    echo "the mock answers its default 16-token chat.completion ($(printf %s "$BODY" | wc -c) bytes)."
    echo "nginx 1.22 answers the same bytes with \`return 200\`, 2 workers, access log off."
    echo "mock: this tree, \`cutover mock\` (one thread, the default); mock-t2: the same binary with"
    echo "\`--threads 2\` (two worker threads, as many as nginx's two workers here)."
    [ -z "${BEFORE:-}" ] || echo "mock-before: the mock built from $BEFORE_REV (BENCH_BEFORE_BIN), in the same rounds."
    echo "$ROUNDS rounds, each running the mocks and nginx back to back with the same wrk settings"
    echo "(wrk -t2 -d${DUR}s --latency, keep-alive); medians, with the spread (lowest-highest) in brackets."
    echo "CPU µs/req is the server's user + system time per request (from /proc), all its threads."
    echo "\"Waited for a core\" is the time the server's threads were ready to run but not running"
    echo "(the second field of /proc/TID/schedstat, summed over its threads and processes), in ms per"
    echo "second of the run: what the other work on the 2 cores (wrk included) took from it."
    echo
    echo "## Throughput: median of $ROUNDS rounds"
    echo
    echo "| conns | server | req/s (spread) | p50 ms | p99 ms | CPU µs/req user + sys | wrk CPU µs/req | waited for a core ms/s | / nginx in the same round (spread) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf "%s" "$SUMMARY"
    echo
    echo "## Fixed 50 ms delay, 1,000 connections: median of $ROUNDS rounds"
    echo
    echo "Ideal: 20,000 req/s, p50 = p99 = 50 ms.  Threads during the run: mock $THREADS_DURING (before the runs: $THREADS_BEFORE), mock-t2 $THREADS2_DURING."
    echo
    echo "| server | req/s (spread) | p50 ms | p99 ms (spread) | errors | CPU µs/req user + sys | waited for a core ms/s (spread) |"
    echo "|---|---|---|---|---|---|---|"
    printf "%s" "$DSUMMARY"
    echo
    echo "Every run (load: the 1-minute load average after it):"
    echo
    echo "| round | conns | server | load | req/s | p50 ms | p99 ms | errors | CPU µs/req user + sys | wrk CPU µs/req | waited for a core ms/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf %s "$RUNS" | awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s + %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }'
    echo
    echo "## Instructions per request (valgrind --tool=callgrind)"
    echo
    echo "Total Ir of a server under \`wrk -t2 -c16 -d${CG_DUR:-20}s\` (keep-alive) minus the Ir of"
    echo "the same server started and stopped with no load, divided by the requests wrk completed."
    echo "nginx runs one process (\`master_process off\`, 1 worker) so callgrind sees it all."
    echo
    echo "| server | Ir / request |"
    echo "|---|---|"
    [ -z "${BEFORE:-}" ] || echo "| mock-before | $CG_BEFORE |"
    echo "| mock | $CG_MOCK |"
    echo "| nginx | $CG_NGINX |"
    echo
    echo "## Reading the numbers"
    echo
    echo "- Requests/s move by a third or more between runs on this shared machine; compare the"
    echo "  two servers within one round, and across runs prefer CPU or instructions per request,"
    echo "  which drift less with load."
    echo "- The mock is one thread by default: one libev loop decides every request in"
    echo "  arrival order.  With \`--threads 2\` (mock-t2) two loops, each with its own"
    echo "  libmicrohttpd daemon on the port (SO_REUSEPORT), parse, answer and do the socket work"
    echo "  in parallel; the decisions and the journal stay one shared state under one lock,"
    echo "  taken once to decide and once to journal.  nginx runs two workers."
    echo "- \"Waited for a core\": a server whose threads are ready to run nearly all the time"
    echo "  loses what it waits; with the 50 ms delay the p99 follows that wait more than the"
    echo "  CPU per request."
    echo "- In the delay run every request is suspended and resumed on an ev_timer of its"
    echo "  worker's loop (libmicrohttpd removes and re-adds the socket to its epoll set: two"
    echo "  epoll_ctl per request); the thread count does not grow with the concurrency."
    echo "- callgrind counts \`rep stosb\` per byte: libmicrohttpd zeroes the connection pool"
    echo "  (16 KiB here) on every request, which is about 24,000 of the mock's Ir per request"
    echo "  but a few hundred cycles of real time."
    echo
    echo "## Commands"
    echo
    echo '```sh'
    if [ -n "${BEFORE:-}" ]; then
        echo "mkdir -p /tmp/before && git archive $BEFORE_REV | tar -x -C /tmp/before && make -C /tmp/before -j2 all"
        echo "make && BENCH_BEFORE_BIN=/tmp/before/bin sh bench/mock.sh $DUR $ROUNDS"
    else
        echo "make && sh bench/mock.sh $DUR $ROUNDS"
    fi
    echo "# servers: bin/cutover mock --port 0 --journal-cap 1000 [--threads 2]; nginx 2 workers (return 200)"
    echo "# inside, per round: wrk -t2 -c{16,64} -d${DUR}s --latency -s post.lua http://127.0.0.1:PORT/v1/chat/completions"
    echo "#                    (mock, mock-t2, then nginx; post.lua: wrk.method = \"POST\"; wrk.body = '$REQ')"
    echo "#                    curl -X PUT -d '{\"latency\":{\"fixed_ms\":50}}' MOCK/_mock/behavior"
    echo "#                    wrk -t2 -c1000 -d${DUR}s --latency -s post.lua MOCK/v1/chat/completions   (mock, mock-t2)"
    echo "#         CPU: utime + stime of /proc/PID/stat before and after each run"
    echo "#         valgrind --tool=callgrind bin/cutover mock --port 0 (and nginx -g 'daemon off; master_process off;')"
    echo '```'
    echo
    echo "<!-- mock:end -->"
} >"$SECTION"
if [ -f "$OUT" ] && grep -q '<!-- mock:begin' "$OUT"; then
    awk -v f="$SECTION" '
        /<!-- mock:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- mock:end/ { skip = 0; next }
        !skip { print }' "$OUT" >"$SECTION.new"
else
    { cat "$SECTION"; [ -f "$OUT" ] && echo && cat "$OUT"; } >"$SECTION.new"
fi
cp "$SECTION.new" "$OUT"
echo "bench: wrote $OUT" >&2
