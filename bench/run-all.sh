#!/bin/sh
# Every benchmark of issue 7 side by side in one run on this machine:
#   0. the mock vs nginx static (bench/mock.sh, which rewrites docs/bench.md),
#      then mock vs nginx static vs WireMock at 16/64/256 connections and the
#      50 ms delay precision at 1,000 connections (WireMock's standalone jar
#      from the npm registry, if it installs);
#   1. cutover-relay vs nginx proxy_pass vs HAProxy in front of the same
#      mock: requests/s, added p50/p99 over the mock direct, CPU seconds per
#      10k requests, RSS at 1,000 connections, streaming time-to-first-byte
#      overhead; the relay with 10,000 idle connections;
#   2. the runner: wall time of the scenario library;
#   3. the runner's open-loop generator at 1k, 5k and 20k req/s;
# and appends the results (between markers, replacing an earlier run's) to
# docs/bench.md, with the relay-vs-peers plot in docs/bench-relay-peers.svg.
#
# Every process it starts is stopped by PID; nothing else is touched.
# Usage: sh bench/run-all.sh [DURATION_S] [ROUNDS]   (defaults 5 and 3: medians of 3)
#   BENCH_MOCK=0 skips step 0's bench/mock.sh; BENCH_WIREMOCK=0 skips WireMock.
set -eu

DUR=${1:-5}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
cd "$ROOT"
BIN=${CUTOVER_BIN:-$ROOT/bin}
OUT=$ROOT/docs/bench.md
SVG=$ROOT/docs/bench-relay-peers.svg
TMP=$(mktemp -d /tmp/cutover-runall.XXXXXX)
BENCH_TMP=$TMP
HZ=$(getconf CLK_TCK)

trap bench_cleanup EXIT INT TERM

for t in wrk nginx haproxy curl python3 cc; do need $t; done
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log() { echo "run-all: $*" >&2; }

make -j2 all >/dev/null
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)

if [ "${BENCH_MOCK:-1}" = 1 ]; then
    # bench/mock.sh rewrites docs/bench.md: keep the soak section across it.
    [ -f "$OUT" ] && awk '/<!-- soak:begin/ {p = 1} p {print} /<!-- soak:end/ {p = 0}' "$OUT" >"$TMP/soak.md"
    log "bench/mock.sh $DUR (rewrites docs/bench.md)"
    BENCH_CALLGRIND=${BENCH_CALLGRIND:-0} sh bench/mock.sh "$DUR" >&2
    if [ -s "$TMP/soak.md" ] && ! grep -q '<!-- soak:begin' "$OUT"; then
        { echo; cat "$TMP/soak.md"; } >>"$OUT"
    fi
fi

median() { sort -n | awk '{v[NR] = $1} END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

REQ='{"model":"gpt-4.1","messages":[{"role":"user","content":"benchmark"}]}'
SREQ='{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"benchmark"}]}'
wrk_post_lua "$TMP/post.lua" "$REQ"

# wrk -> "rps p50_ms p99_ms errors requests"
wrk_run() { # conns url [duration]
    wrk -t2 -c"$1" -d"${3:-$DUR}s" --timeout 10s --latency -s "$TMP/post.lua" "$2" >"$TMP/wrk.txt" 2>&1 || true
    wrk_summary "$TMP/wrk.txt"
}

# ---- the shared upstream: one mock -------------------------------------------
"$BIN/cutover" mock --name bench --port 0 --journal-cap 1000 --log-level warn >"$TMP/mock.out" 2>"$TMP/mock.err" &
MOCK_PID=$!; PIDS="$PIDS $MOCK_PID"
MOCK=$(wait_url "$TMP/mock.out")
MPORT=${MOCK##*:}
BODY=$(curl -s -X POST -H 'Content-Type: application/json' -d "$REQ" "$MOCK/v1/chat/completions")

# ---- the relay -----------------------------------------------------------------
"$BIN/cutover-relay" --port 0 --blue-url "$MOCK/v1" --green-url "$MOCK/v1" --api-key sk-bench \
    --health-interval-ms 0 --rate-limit-requests 0 --log-level error --max-connections 2048 \
    >"$TMP/relay.out" 2>"$TMP/relay.err" &
RELAY_PID=$!; PIDS="$PIDS $RELAY_PID"
RELAY=$(wait_url "$TMP/relay.out")

# ---- nginx proxy_pass (1 worker: the relay is one thread) ------------------------
NPORT=$(free_port)
mkdir -p "$TMP/nginx/logs"
cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 1000000;
    upstream mock { server 127.0.0.1:$MPORT; keepalive 256; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$NPORT;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx/stderr" &
NGINX_PID=$!; PIDS="$PIDS $NGINX_PID"
NGINX=http://127.0.0.1:$NPORT

# ---- HAProxy (1 thread) -------------------------------------------------------------
HPORT=$(free_port)
cat >"$TMP/haproxy.cfg" <<CONF
global
    maxconn 9000
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always
frontend fe
    bind 127.0.0.1:$HPORT
    default_backend be
backend be
    server mock 127.0.0.1:$MPORT maxconn 2000
CONF
haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.out" 2>&1 &
HAPROXY_PID=$!; PIDS="$PIDS $HAPROXY_PID"
HAPROXY=http://127.0.0.1:$HPORT
wait_http "$NGINX/health"; wait_http "$HAPROXY/health"

for u in "$RELAY" "$NGINX" "$HAPROXY"; do
    # The mock varies ids and words per request: compare shape and size.
    b=$(curl -s -X POST -H 'Content-Type: application/json' -d "$REQ" "$u/v1/chat/completions")
    case "$b" in *'"object":"chat.completion"'*) ;; *) echo "run-all: $u answered: $b" >&2; exit 3;; esac
done
log "mock $MOCK, relay $RELAY, nginx $NGINX, haproxy $HAPROXY; ${DUR}s x $ROUNDS rounds"

# ---- 1. relay vs peers, 64 connections, rounds interleaved --------------------------
names="direct relay nginx haproxy"
url_of() { case $1 in direct) echo "$MOCK";; relay) echo "$RELAY";; nginx) echo "$NGINX";; haproxy) echo "$HAPROXY";; esac; }
pids_of() { case $1 in direct) echo "$MOCK_PID";; relay) echo "$RELAY_PID";; nginx) echo "$NGINX_PID";; haproxy) echo "$HAPROXY_PID";; esac; }
r=1
while [ $r -le "$ROUNDS" ]; do
    for n in $names; do
        c0=$(cpu_ticks $(pids_of $n))
        set -- $(wrk_run 64 "$(url_of $n)/v1/chat/completions")
        c1=$(cpu_ticks $(pids_of $n))
        # CPU seconds of the server under test per 10k requests (the mock's own
        # CPU is not counted for the proxies).
        cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$5" 'BEGIN { printf "%.3f", n ? t / hz * 10000 / n : 0 }')
        echo "$1 $2 $3 $4 $cpu" >>"$TMP/r64.$n"
        log "round $r $n: $1 rps, p50 $2 ms, p99 $3 ms, errors $4, cpu/10k $cpu s"
    done
    r=$((r + 1))
done
for n in $names; do
    for k in 1 2 3 5; do
        awk -v k=$k '{print $k}' "$TMP/r64.$n" | median >"$TMP/m.$n.$k"
    done
    awk '{s += $4} END {print s + 0}' "$TMP/r64.$n" >"$TMP/m.$n.4"
done
m() { cat "$TMP/m.$1.$2"; }

# ---- streaming time to first byte (sequential, fresh connection each) --------------------
curl -s -X PUT -d '{"reply":{"tokens":16,"tokens_per_s":0,"ttft_ms":0}}' "$MOCK/_mock/behavior" >/dev/null
for n in $names; do
    i=0
    while [ $i -lt 200 ]; do
        curl -s -o /dev/null -w '%{time_starttransfer}\n' -H 'Content-Type: application/json' \
            -d "$SREQ" "$(url_of $n)/v1/chat/completions"
        i=$((i + 1))
    done | awk '{ printf "%.3f\n", $1 * 1000 }' | median >"$TMP/ttfb.$n"
    log "stream TTFB $n: median $(cat "$TMP/ttfb.$n") ms"
done
curl -s -X PUT -d '{}' "$MOCK/_mock/behavior" >/dev/null

# ---- RSS at 1,000 connections ----------------------------------------------------------
for n in $names; do
    wrk -t2 -c1000 -d"${DUR}s" --timeout 10s --latency -s "$TMP/post.lua" "$(url_of $n)/v1/chat/completions" >"$TMP/wrk1k.$n" 2>&1 &
    w=$!; PIDS="$PIDS $w"
    sleep $(awk -v d="$DUR" 'BEGIN { print d / 2 }')
    rss_kb $(pids_of $n) >"$TMP/rss1k.$n"
    wait $w || true
    awk '/Requests\/sec/ { print $2 + 0 }' "$TMP/wrk1k.$n" >"$TMP/rps1k.$n"
    log "1000 conns $n: RSS $(cat "$TMP/rss1k.$n") kB, $(cat "$TMP/rps1k.$n") rps"
done

# ---- 10,000 idle connections to the relay ----------------------------------------------------
RPORT=${RELAY##*:}
IDLE=$(python3 - "$RPORT" "$RELAY_PID" <<'PY'
import socket, sys, time, subprocess, os
port, pid = int(sys.argv[1]), sys.argv[2]
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS"): return int(l.split()[1])
def one(timeout):
    t0 = time.time()
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", str(timeout), "-w", "%{http_code}", "-H",
                          "Content-Type: application/json", "-d",
                          '{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}',
                          "http://127.0.0.1:%d/v1/chat/completions" % port], capture_output=True, text=True).stdout
    return (out if out and out != "000" else "none"), (time.time() - t0) * 1000
rss0 = rss()
socks, refused = [], 0
for i in range(10000):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    except OSError:
        refused += 1
time.sleep(2)
fds = len(os.listdir("/proc/%s/fd" % pid))
rss1 = rss()
st1, ms1 = one(3)          # the 10,001st connection
for s in socks[:1000]: s.close()
time.sleep(1)
st2, ms2 = one(10)         # with 9,000 idle
for s in socks[1000:]: s.close()
time.sleep(1)
print(len(socks), refused, rss0, rss1, fds, st1, "%.1f" % ms1, st2, "%.1f" % ms2, rss())
PY
)
log "10k idle: $IDLE"
set -- $IDLE
IDLE_OPEN=$1 IDLE_REFUSED=$2 IDLE_RSS0=$3 IDLE_RSS1=$4 IDLE_FDS=$5 IDLE_STATUS=$6 IDLE_MS=$7
IDLE_STATUS2=$8 IDLE_MS2=$9 IDLE_RSS2=${10}

# ---- mock vs nginx static vs WireMock -------------------------------------------------------------
WM_NOTE="not run (BENCH_WIREMOCK=0)"
WM_ROWS=""
WM_DELAY=""
if [ "${BENCH_WIREMOCK:-1}" = 1 ]; then
    JAR=$(ls "$ROOT"/build/wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar 2>/dev/null | head -n1 || true)
    if [ -z "$JAR" ] && command -v npm >/dev/null 2>&1; then
        mkdir -p "$ROOT/build/wiremock"
        (cd "$ROOT/build/wiremock" && npm install --no-audit --no-fund wiremock >/dev/null 2>&1) || true
        JAR=$(ls "$ROOT"/build/wiremock/node_modules/wiremock/build/wiremock-standalone-*.jar 2>/dev/null | head -n1 || true)
    fi
    if [ -n "$JAR" ] && command -v java >/dev/null 2>&1; then
        WPORT=$(free_port)
        java -jar "$JAR" --port "$WPORT" --bind-address 127.0.0.1 --no-request-journal \
            --disable-banner --async-response-enabled true --container-threads 64 \
            >"$TMP/wiremock.out" 2>&1 &
        WM_PID=$!; PIDS="$PIDS $WM_PID"
        WM=http://127.0.0.1:$WPORT
        wait_http "$WM/__admin/mappings" 300
        python3 - "$WM" "$BODY" <<'PY'
import json, sys, urllib.request
wm, body = sys.argv[1], sys.argv[2]
for delay in (None, 50):
    m = {"request": {"method": "POST", "url": "/v1/chat/completions" if delay is None else "/delay/v1/chat/completions"},
         "response": {"status": 200, "body": body, "headers": {"Content-Type": "application/json"}}}
    if delay: m["response"]["fixedDelayMilliseconds"] = delay
    req = urllib.request.Request(wm + "/__admin/mappings", data=json.dumps(m).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
        # nginx static, same body, 2 workers as in bench/mock.sh.
        SPORT=$(free_port)
        sed -e "s/^worker_processes 1;/worker_processes 2;/" -e "s|pid .*|pid $TMP/nginx/static.pid;|" \
            -e "s/listen 127.0.0.1:$NPORT;/listen 127.0.0.1:$SPORT;/" \
            -e "s|proxy_pass http://mock;|default_type application/json; return 200 '$BODY';|" \
            "$TMP/nginx/nginx.conf" >"$TMP/nginx/static.conf"
        nginx -p "$TMP/nginx" -c "$TMP/nginx/static.conf" -g 'daemon off;' 2>"$TMP/nginx/static.err" &
        SN_PID=$!; PIDS="$PIDS $SN_PID"
        SN=http://127.0.0.1:$SPORT
        wait_http "$SN/"
        # JIT warm-up for WireMock, so the table is its steady state.
        wrk_run 64 "$WM/v1/chat/completions" 5 >/dev/null
        for c in 16 64 256; do
            row="| $c"
            for u in "$MOCK" "$SN" "$WM"; do
                set -- $(wrk_run $c "$u/v1/chat/completions")
                row="$row | $1 | $2 | $3 | $4"
            done
            WM_ROWS="$WM_ROWS$row |
"
            log "mock/nginx/wiremock c=$c: $row"
        done
        curl -s -X PUT -d '{"latency":{"fixed_ms":50}}' "$MOCK/_mock/behavior" >/dev/null
        set -- $(wrk_run 1000 "$MOCK/v1/chat/completions")
        WM_DELAY="| mock | $1 | $(awk -v a="$1" 'BEGIN { printf "%.0f%%", 100 * a / 20000 }') | $2 | $3 | $4 |
"
        curl -s -X PUT -d '{}' "$MOCK/_mock/behavior" >/dev/null
        set -- $(wrk_run 1000 "$WM/delay/v1/chat/completions")
        WM_DELAY="$WM_DELAY| WireMock | $1 | $(awk -v a="$1" 'BEGIN { printf "%.0f%%", 100 * a / 20000 }') | $2 | $3 | $4 |
"
        WM_NOTE="WireMock $(basename "$JAR" .jar | sed 's/wiremock-standalone-//') standalone (npm package \`wiremock\`), $(java -version 2>&1 | head -n1), \`--async-response-enabled true --container-threads 64 --no-request-journal\`, warmed up 5 s"
        kill "$WM_PID" "$SN_PID" 2>/dev/null || true
    else
        WM_NOTE="not run: the wiremock npm package or java is missing"
    fi
fi

# ---- 2. the runner: the scenario library ------------------------------------------------------------
t0=$(date +%s.%N)
"$BIN/cutover" run scenarios/ --jobs 1 --out "$TMP/lib" >"$TMP/lib.txt" 2>&1 && LIB_RC=0 || LIB_RC=$?
t1=$(date +%s.%N)
LIB_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
LIB_SUM=$(grep -E 'scenario\(s\):' "$TMP/lib.txt" | tail -n1)
LIB_FAILS=$(grep -E '^\[ *[0-9]+/[0-9]+\] +FAIL' "$TMP/lib.txt" | awk '{print $3}' | tr '\n' ' ')
log "library: $LIB_WALL s: $LIB_SUM"

# ---- 3. open-loop accuracy of the runner's generator -----------------------------------------------------
CFL="-std=c11 -D_GNU_SOURCE -O2 -g -I. -Icommon $(pkg-config --cflags libcurl libmicrohttpd jansson)"
B=build/rel
mkdir -p $B/bench
cc $CFL -o $B/bench/traffic_accuracy bench/traffic_accuracy.c $B/libharness.a $B/libreports.a \
    $B/libmock.a $B/libco.a $(pkg-config --libs libcurl libmicrohttpd jansson) -lev -lm -lpthread
ACC=""
for spec in 1000:3000 5000:3000 20000:1000; do
    rate=${spec%%:*} dur=${spec##*:}
    # Three runs; the one with the median send-error p99 is reported (the
    # machine's load comes and goes within a run of this script).
    : >"$TMP/acc.$rate"
    for k in 1 2 3; do
        $B/bench/traffic_accuracy "$MOCK" "$rate" "$dur" >>"$TMP/acc.$rate"
    done
    j=$(python3 -c '
import json, sys
runs = sorted((json.loads(l) for l in open(sys.argv[1]) if l.strip()), key=lambda j: j["send_err_p99_us"])
print(json.dumps(runs[len(runs) // 2]))' "$TMP/acc.$rate")
    log "accuracy $rate (median of 3 by send-error p99): $j"
    ACC="$ACC$(echo "$j" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("| %d | %d | %d | %.0f (%.1f%%) | %.2f | %.2f | %.2f | %d | %.2f |" % (j["target_rps"], j["scheduled"], j["ok"], j["achieved_rps"],
      100 * j["achieved_rps"] / j["target_rps"], j["send_err_p50_us"] / 1000, j["send_err_p99_us"] / 1000,
      j["send_err_max_us"] / 1000, j["transport_errors"], j["latency_p99_us"] / 1000))')
"
done
LOAD1=$(cut -d" " -f1-3 /proc/loadavg)

# ---- the table and the plot ---------------------------------------------------------------------------------
d50=$(m direct 2); d99=$(m direct 3)
PEERS=""
for n in relay nginx haproxy direct; do
    a50=$(awk -v a="$(m $n 2)" -v b="$d50" 'BEGIN { printf "%+.3f", a - b }')
    a99=$(awk -v a="$(m $n 3)" -v b="$d99" 'BEGIN { printf "%+.3f", a - b }')
    [ $n = direct ] && a50="-" && a99="-"
    tt=$(awk -v a="$(cat "$TMP/ttfb.$n")" -v b="$(cat "$TMP/ttfb.direct")" 'BEGIN { printf "%+.3f", a - b }')
    [ $n = direct ] && tt="($(cat "$TMP/ttfb.direct") ms)"
    label=$n; [ $n = direct ] && label="mock direct"
    PEERS="$PEERS| $label | $(m $n 1) | $(m $n 2) | $(m $n 3) | $a50 | $a99 | $(m $n 5) | $(m $n 4) | $(awk -v k="$(cat "$TMP/rss1k.$n")" 'BEGIN { printf "%.1f", k / 1024 }') | $(cat "$TMP/rps1k.$n") | $tt |
"
done
RELAY_VS_NGINX=$(awk -v a="$(m relay 1)" -v b="$(m nginx 1)" 'BEGIN { printf "%.0f%%", b ? 100 * a / b : 0 }')

python3 - "$SVG" "$TMP" "$d50" "$d99" <<'PY'
import sys
svg, tmp, d50, d99 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
def med(n, k): return float(open("%s/m.%s.%d" % (tmp, n, k)).read())
names = ["relay", "nginx", "haproxy", "direct"]
labels = {"relay": "cutover-relay", "nginx": "nginx proxy_pass", "haproxy": "HAProxy", "direct": "mock direct"}
colors = {"relay": "#1f77b4", "nginx": "#2ca02c", "haproxy": "#ff7f0e", "direct": "#999999"}
rps = {n: med(n, 1) for n in names}
add = {n: (max(med(n, 2) - d50, 0), max(med(n, 3) - d99, 0)) for n in names if n != "direct"}
W, H = 760, 330
o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
     '<rect width="100%" height="100%" fill="white"/>',
     '<text x="20" y="22" font-size="14">Relay vs peers in front of the same mock (wrk -c64, medians)</text>']
# Left panel: requests/s.
x0, y0, pw, ph = 60, 50, 300, 220
top = max(rps.values()) * 1.15 or 1
o.append('<text x="%d" y="%d">requests/s</text>' % (x0, y0 - 8))
o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (x0, y0 + ph, x0 + pw, y0 + ph))
bw = pw / len(names) * 0.6
for i, n in enumerate(names):
    h = ph * rps[n] / top
    x = x0 + pw / len(names) * (i + 0.2)
    o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' % (x, y0 + ph - h, bw, h, colors[n]))
    o.append('<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>' % (x + bw / 2, y0 + ph - h - 4, rps[n]))
    o.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%s</text>' % (x + bw / 2, y0 + ph + 14, labels[n]))
# Right panel: added latency p50 / p99 (ms) over the mock direct.
x0 = 420
top = max(max(v) for v in add.values()) * 1.2 or 1
o.append('<text x="%d" y="%d">added latency over direct (ms): p50 solid, p99 light</text>' % (x0, y0 - 8))
o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (x0, y0 + ph, x0 + pw, y0 + ph))
peers = [n for n in names if n != "direct"]
for i, n in enumerate(peers):
    gx = x0 + pw / len(peers) * (i + 0.15)
    for j, v in enumerate(add[n]):
        h = ph * v / top
        x = gx + j * bw * 0.55
        o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%s"/>' % (x, y0 + ph - h, bw * 0.5, h, colors[n], "1" if j == 0 else "0.45"))
        o.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.2f</text>' % (x + bw * 0.25, y0 + ph - h - 4, v))
    o.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%s</text>' % (gx + bw * 0.5, y0 + ph + 14, labels[n]))
o.append('</svg>')
open(svg, "w").write("\n".join(o) + "\n")
PY

# ---- docs/bench.md: our section between markers ---------------------------------------------------------------
SECTION=$TMP/section.md
{
echo "<!-- run-all:begin (written by bench/run-all.sh; do not edit by hand) -->"
echo
echo "# Relay, peers, runner: bench/run-all.sh"
echo
echo "Measured by \`sh bench/run-all.sh $DUR $ROUNDS\` on $STARTED, $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)),"
echo "$(awk '/MemTotal/ {printf "%.0f GB RAM", $2 / 1048576}' /proc/meminfo), $(uname -sr)."
echo "Load average before: $LOAD0; after: $LOAD1 (other engineers were compiling on this machine"
echo "during the run: numbers drift with that load; compare rows of one run, not runs)."
echo "wrk, the mock, and the server under test share the 2 cores."
echo
echo "## Relay vs nginx proxy_pass vs HAProxy, in front of the same mock"
echo
echo "One \`cutover mock\` is the upstream of all three (and is measured direct as the baseline)."
echo "cutover-relay: one thread, both colours pointed at the mock, health checks and client rate"
echo "limit off, log level error, no event log. nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'): 1 worker, upstream"
echo "keepalive 256, \`proxy_buffering off\` (as in front of a streaming LLM API). HAProxy"
echo "$(haproxy -v | head -n1 | awk '{print $3}'): \`nbthread 1\`, \`http-reuse always\`. One worker or thread each: the relay is one thread."
echo
echo "wrk -t2 -c64 -d${DUR}s, $ROUNDS rounds interleaved (direct, relay, nginx, haproxy per round), medians."
echo "Added latency is the proxy's median minus the mock direct's. CPU is the proxy"
echo "process(es)' user+system time per 10k requests (the mock's CPU not included)."
echo "RSS at 1,000 connections: the proxy's resident set sampled mid-way through wrk -c1000."
echo "Streaming TTFB: median of 200 sequential \`curl\` \`time_starttransfer\` on a \`stream: true\`"
echo "request (a fresh connection each), minus the mock direct's."
echo
echo "| server | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU s / 10k req | errors | RSS MB at 1k conns | req/s at 1k conns | stream TTFB added ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf "%s" "$PEERS"
echo
echo "relay / nginx requests/s: $RELAY_VS_NGINX."
echo
echo "![relay vs peers](bench-relay-peers.svg)"
echo
echo "## cutover-relay with 10,000 idle connections"
echo
echo "10,000 TCP connections opened to the relay and left idle (python3 sockets), then one request"
echo "(curl, 3 s timeout); then 1,000 of them closed and one request again (with 9,000 idle)."
echo "The relay's libmicrohttpd connection limit is 10,000 (relay_server.c), so the 10,001st"
echo "connection waits in the listen backlog: bounded, by design, but a client sees a timeout."
echo
echo "| opened | refused | relay RSS before | RSS with 10k idle | relay fds | request at 10k idle | its time | request at 9k idle | its time | RSS after closing all |"
echo "|---|---|---|---|---|---|---|---|---|---|"
echo "| $IDLE_OPEN | $IDLE_REFUSED | $(awk -v k="$IDLE_RSS0" 'BEGIN{printf "%.1f MB", k/1024}') | $(awk -v k="$IDLE_RSS1" 'BEGIN{printf "%.1f MB", k/1024}') | $IDLE_FDS | $IDLE_STATUS | $IDLE_MS ms | $IDLE_STATUS2 | $IDLE_MS2 ms | $(awk -v k="$IDLE_RSS2" 'BEGIN{printf "%.1f MB", k/1024}') |"
echo
echo "## Mock vs nginx static vs WireMock"
echo
echo "$WM_NOTE. nginx: \`return 200\` with the mock's body, 2 workers. wrk -t2 -d${DUR}s, one run each."
echo
if [ -n "$WM_ROWS" ]; then
echo "| conns | mock req/s | mock p50 ms | mock p99 ms | mock errors | nginx req/s | nginx p50 ms | nginx p99 ms | nginx errors | WireMock req/s | WireMock p50 ms | WireMock p99 ms | WireMock errors |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf "%s" "$WM_ROWS"
echo
echo "Delay precision: a fixed 50 ms delay, wrk -t2 -c1000 -d${DUR}s (ideal: 20,000 req/s, p50 = p99 = 50 ms)."
echo
echo "| server | req/s | % of 1000/0.05 | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|---|"
printf "%s" "$WM_DELAY"
fi
echo
echo "## The runner"
echo
echo "Wall time of \`cutover run scenarios/\` (the whole library, sequential): **$LIB_WALL s** (exit $LIB_RC)."
echo "\`$LIB_SUM\`"
[ -n "$LIB_FAILS" ] && echo "Failed in this run (under the benchmark's load): $LIB_FAILS"
echo
echo "Open-loop accuracy of the runner's generator (harness/traffic.c) driving the mock directly"
echo "(bench/traffic_accuracy.c; uniform arrivals; the median of 3 runs by send-error p99; send error ="
echo "the time the request was handed to libcurl − its scheduled time;"
echo "latency is measured from the scheduled time, as wrk2 does, so falling behind shows)."
echo "A wrk2-style generator is expected to hold the achieved rate at the target and keep send"
echo "error near zero until it saturates."
echo
echo "| target req/s | scheduled | 200s | achieved req/s | send error p50 ms | p99 ms | max ms | transport errors | latency p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|"
printf "%s" "$ACC"
echo
echo "## Commands"
echo
echo '```sh'
echo "sh bench/run-all.sh $DUR $ROUNDS      # all of the above, then this section"
echo "# inside: wrk -t2 -c64 -d${DUR}s --latency -s post.lua URL/v1/chat/completions   (direct, relay, nginx, haproxy)"
echo "#         wrk -t2 -c1000 -d${DUR}s ... (RSS from /proc/PID/status mid-run)"
echo "#         curl -w '%{time_starttransfer}' -d '{\"stream\":true,...}' URL/v1/chat/completions   x 200"
echo "#         java -jar wiremock-standalone.jar --port P --async-response-enabled true --no-request-journal"
echo "#         cutover run scenarios/; build/rel/bench/traffic_accuracy MOCK RATE DURATION_MS"
echo "sh bench/soak.sh                      # the 1,000,000-request soak (docs/soak-relay.svg)"
echo '```'
echo
echo "<!-- run-all:end -->"
} >"$SECTION"
if [ -f "$OUT" ] && grep -q '<!-- run-all:begin' "$OUT"; then
    awk -v f="$SECTION" '
        /<!-- run-all:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- run-all:end/ { skip = 0; next }
        !skip { print }' "$OUT" >"$TMP/bench.md" && cp "$TMP/bench.md" "$OUT"
else
    { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$SECTION"; } >"$TMP/bench.md" && cp "$TMP/bench.md" "$OUT"
fi
log "wrote $OUT and $SVG"
