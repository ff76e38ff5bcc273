#!/bin/sh
# Benchmark of cutover-relay beside nginx, in one run, in front of the same
# upstream (a cutover mock with zero latency):
#   direct  wrk -> mock
#   nginx   wrk -> nginx (1 worker, proxy_pass, upstream keepalive) -> mock
#   relay   wrk -> cutover-relay (one thread) -> mock
# wrk: 64 keep-alive connections, POST /v1/chat/completions.  Then the
# relay's RSS with 1,000 idle client connections open, and its RSS and open
# fds across a long run, and instructions per request under callgrind for
# the relay and nginx (BENCH_CALLGRIND=0 skips it).  Prints a Markdown table; `--append FILE` also
# appends it (with the commands) to FILE.
#
# Usage: sh bench/relay.sh [--duration S] [--long-requests N] [--append docs/bench-relay.md]
# Everything listens on 127.0.0.1; every process started here is stopped by
# PID on exit.
set -eu

DUR=10
LONG=1000000
APPEND=""
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DUR=$2; shift 2 ;;
    --long-requests) LONG=$2; shift 2 ;;
    --append) APPEND=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--long-requests N] [--append FILE]" >&2; exit 2 ;;
    esac
done

. "$(dirname "$0")/lib.sh"
BIN=${CUTOVER_BIN:-bin}
need wrk
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench: nginx is not installed (apt-get install nginx)" >&2; exit 3; }

WORK=$(mktemp -d /tmp/cutover-bench.XXXXXX)
BENCH_TMP=$WORK
trap bench_cleanup EXIT INT TERM

"$BIN/cutover" mock --name blue --port 0 --journal-cap 1000 >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
PIDS="$PIDS $MOCK_PID"
MOCK=$(wait_url "$WORK/mock.out")
MOCK_PORT=${MOCK##*:}

"$BIN/cutover" mock --name green --port 0 --journal-cap 1000 >"$WORK/mock2.out" 2>"$WORK/mock2.err" &
PIDS="$PIDS $!"
MOCK2=$(wait_url "$WORK/mock2.out")

"$BIN/cutover-relay" --port 0 --blue-url "$MOCK/v1" --green-url "$MOCK2/v1" --api-key sk-bench \
    --rate-limit-requests 0 --health-interval-ms 0 >"$WORK/relay.out" 2>"$WORK/relay.err" &
RELAY_PID=$!
PIDS="$PIDS $RELAY_PID"
RELAY=$(wait_url "$WORK/relay.out")

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer sk-bench";
        }
    }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx.err" &
PIDS="$PIDS $!"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/health"; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "bench: nginx did not start" >&2; cat "$WORK/nginx.err" >&2; exit 3; }
    sleep 0.05
done

wrk_post_lua "$WORK/post.lua"

# wrk's numbers for one target: "rps p50_ms p99_ms errors"
run_wrk() { # url
    wrk -t2 -c64 -d"${DUR}s" --latency -s "$WORK/post.lua" "$1/v1/chat/completions" |
        wrk_summary - | awk '{print $1, $2, $3, $4}'
}

# Warm up every path once.
for u in "$MOCK" "http://127.0.0.1:$NGINX_PORT" "$RELAY"; do
    wrk -t1 -c8 -d1s -s "$WORK/post.lua" "$u/v1/chat/completions" >/dev/null
done
DIRECT=$(run_wrk "$MOCK")
NG=$(run_wrk "http://127.0.0.1:$NGINX_PORT")
RL=$(run_wrk "$RELAY")
TW=$(ss -tan state time-wait "( dport = :$MOCK_PORT )" 2>/dev/null | tail -n +2 | wc -l)

# RSS with 1,000 idle client connections open on the relay.
RSS_BEFORE=$(rss_kb "$RELAY_PID")
python3 - "$RELAY" >"$WORK/conns.out" <<'PY' &
import socket, sys, time
host, port = sys.argv[1].replace("http://", "").split(":")
socks = []
for i in range(1000):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
for s in socks:
    s.recv(4096)
print("open", len(socks), flush=True)
time.sleep(30)
PY
CONN_PID=$!
PIDS="$PIDS $CONN_PID"
i=0
until grep -q open "$WORK/conns.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 400 ] && break
    sleep 0.05
done
RSS_1000=$(rss_kb "$RELAY_PID")
PRIV_1000=$(awk '/^Private_Dirty/ {print $2}' "/proc/$RELAY_PID/smaps_rollup" 2>/dev/null || echo "?")
FDS_1000=$(fds "$RELAY_PID")
kill "$CONN_PID" 2>/dev/null || true

# RSS and fds across a long run (LONG requests, or as many as fit in 120 s).
RSS_A=$(rss_kb "$RELAY_PID"); FD_A=$(fds "$RELAY_PID")
LONG_S=$(awk -v n="$LONG" -v r="$(echo "$RL" | cut -d' ' -f1)" 'BEGIN {s = int(n / (r > 0 ? r : 1)) + 1; print (s > 120 ? 120 : s)}')
LONG_OUT=$(wrk -t2 -c64 -d"${LONG_S}s" -s "$WORK/post.lua" "$RELAY/v1/chat/completions")
LONG_N=$(echo "$LONG_OUT" | awk '/requests in/ {print $1}')
RSS_B=$(rss_kb "$RELAY_PID"); FD_B=$(fds "$RELAY_PID")

# Instructions per proxied request (valgrind --tool=callgrind): the Ir of a
# proxy under wrk -t2 -c16 for CG_DUR seconds minus the Ir of the same proxy
# started and stopped idle, divided by the requests wrk completed.  The relay
# process alone; nginx as one process (master_process off, 1 worker).
CG_RELAY="n/a" CG_NGINX="n/a"
if [ "${BENCH_CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
    CG_DUR=${BENCH_CG_DUR:-10}
    cg_run() { # relay|nginx load(0|1) -> "Ir requests"
        if [ "$1" = relay ]; then
            valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
                "$BIN/cutover-relay" --port 0 --blue-url "$MOCK/v1" --green-url "$MOCK2/v1" \
                --api-key sk-bench --rate-limit-requests 0 --health-interval-ms 0 \
                >"$WORK/cg.out" 2>"$WORK/cg.err" &
            p=$!
            PIDS="$PIDS $p"
            u=$(wait_url "$WORK/cg.out")
        else
            port=$(free_port)
            sed -e "s/listen 127.0.0.1:$NGINX_PORT/listen 127.0.0.1:$port/" \
                -e "s|^pid .*|pid $WORK/nginx/cg.pid;|" -e "/^daemon off;/d" \
                "$WORK/nginx/nginx.conf" >"$WORK/nginx/cg.conf"
            valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
                "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/cg.conf" -g 'daemon off; master_process off;' \
                2>"$WORK/cg.err" &
            p=$!
            PIDS="$PIDS $p"
            u="http://127.0.0.1:$port"
            wait_http "$u/health"
        fi
        reqs=0
        if [ "$2" = 1 ]; then
            wrk -t2 -c16 -d"${CG_DUR}s" -s "$WORK/post.lua" "$u/v1/chat/completions" >"$WORK/cg.wrk" 2>&1 || true
            reqs=$(awk '/requests in/ {print $1}' "$WORK/cg.wrk")
        fi
        if [ "$1" = relay ]; then kill -TERM $p; else kill -QUIT $p; fi
        wait $p 2>/dev/null || true
        echo "$(awk '/^summary:/ {print $2}' "$WORK"/cg.$p) $reqs"
        rm -f "$WORK"/cg.$p
    }
    per_req() { # relay|nginx -> Ir/request
        set -- $(cg_run "$1" 0) $(cg_run "$1" 1)
        awk -v idle="$1" -v busy="$3" -v n="$4" 'BEGIN { if (n > 0) printf "%.0f", (busy - idle) / n; else print "n/a" }'
    }
    CG_RELAY=$(per_req relay)
    CG_NGINX=$(per_req nginx)
fi
CG_RATIO=$(awk -v a="$CG_RELAY" -v b="$CG_NGINX" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.1fx", a / b; else print "n/a" }')

set -- $DIRECT; D_RPS=$1 D_P50=$2 D_P99=$3 D_ERR=$4
set -- $NG; N_RPS=$1 N_P50=$2 N_P99=$3 N_ERR=$4
set -- $RL; R_RPS=$1 R_P50=$2 R_P99=$3 R_ERR=$4
RATIO=$(awk -v a="$R_RPS" -v b="$N_RPS" 'BEGIN {printf "%.0f%%", 100 * a / b}')
ADD_N=$(awk -v a="$N_P50" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}')
ADD_R=$(awk -v a="$R_P50" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}')

TABLE=$(cat <<MD
### $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -r)), wrk -t2 -c64 -d${DUR}s

| path | requests/s | p50 ms | p99 ms | errors | added p50 ms |
|---|---:|---:|---:|---:|---:|
| direct (mock) | $D_RPS | $D_P50 | $D_P99 | $D_ERR | |
| nginx 1 worker, keepalive 128 | $N_RPS | $N_P50 | $N_P99 | $N_ERR | $ADD_N |
| cutover-relay | $R_RPS | $R_P50 | $R_P99 | $R_ERR | $ADD_R |

- relay requests/s as a share of nginx's: **$RATIO** (target at least 70%)
- relay RSS: $RSS_BEFORE kB idle, **$RSS_1000 kB with 1,000 open client connections** ($FDS_1000 fds; $PRIV_1000 kB of it private, the rest shared library pages) (target under 20 MB)
- across ${LONG_N:-?} requests (${LONG_S}s): RSS $RSS_A -> $RSS_B kB, fds $FD_A -> $FD_B
- sockets in TIME_WAIT towards the mock after the relay's run: $TW
- instructions per proxied request (callgrind): relay **$CG_RELAY**, nginx $CG_NGINX (relay/nginx $CG_RATIO; target at most 3x)
MD
)
echo "$TABLE"
if [ -n "$APPEND" ]; then
    {
        echo
        echo "$TABLE"
        echo
        echo "Command: \`sh bench/relay.sh --duration $DUR --long-requests $LONG\`"
    } >>"$APPEND"
fi
