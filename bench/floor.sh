#!/bin/sh
# The performance floor of cutover's mandated stack (docs/bench-floor.md).
# In one run, in front of the same upstream (a cutover mock answering at once):
#   direct         wrk -> mock
#   nginx          wrk -> nginx (1 worker, proxy_pass, upstream keepalive) -> mock
#   relay          wrk -> cutover-relay -> mock (for reference)
#   floor none     wrk -> floor-proxy --json none -> mock
#   floor request  wrk -> floor-proxy --json request -> mock
#   floor both     wrk -> floor-proxy --json both -> mock
# wrk: -t2 -c64 keep-alive POSTs of a chat request, ROUNDS rounds of every
# path.  Then instructions per proxied request under callgrind (the method of
# bench/relay.sh: Ir under wrk -t2 -c16 minus Ir of the same process started
# and stopped idle, divided by the requests served) for nginx, the relay and
# the floor in each JSON mode, with the floor's Ir by library and by entry
# point (callgrind_annotate); the knob sweep (the floor with one knob changed
# at a time, one client connection, median of 3); and syscalls per request
# under strace -c -f over a fixed request count.  Prints Markdown;
# `--append FILE` also appends it.
#
# Usage: sh bench/floor.sh [--duration S] [--rounds N] [--cg-duration S]
#                          [--strace-requests N] [--no-knobs] [--only wrk|cg|knobs|strace]
#                          [--append FILE]
# Everything listens on 127.0.0.1; every process started here is stopped by
# PID on exit; every load is bounded in time.
set -eu

DUR=8
ROUNDS=3
CG_DUR=8
STRACE_N=10000
STRACE_S=10
KNOBS=1
ONLY=""
APPEND=""
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DUR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --cg-duration) CG_DUR=$2; shift 2 ;;
    --strace-requests) STRACE_N=$2; shift 2 ;;
    --no-knobs) KNOBS=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --append) APPEND=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--rounds N] [--cg-duration S] [--strace-requests N] [--no-knobs] [--only wrk|cg|knobs|strace] [--append FILE]" >&2; exit 2 ;;
    esac
done
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

. "$(dirname "$0")/lib.sh"
BIN=${CUTOVER_BIN:-bin}
[ -x "$BIN/floor-proxy" ] || { echo "bench: $BIN/floor-proxy is missing (make bench-floor)" >&2; exit 3; }
need wrk
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench: nginx is not installed (apt-get install nginx)" >&2; exit 3; }
for t in valgrind callgrind_annotate strace; do need $t; done

WORK=$(mktemp -d /tmp/cutover-floor.XXXXXX)
BENCH_TMP=$WORK
trap bench_cleanup EXIT INT TERM

LOAD_START=$(uptime | sed 's/.*load average: //')

"$BIN/cutover" mock --name blue --port 0 --journal-cap 1000 >"$WORK/mock.out" 2>"$WORK/mock.err" &
PIDS="$PIDS $!"
MOCK=$(wait_url "$WORK/mock.out")
MOCK_PORT=${MOCK##*:}
UP="$MOCK/v1/chat/completions"

mkdir -p "$WORK/nginx/logs"
nginx_conf() { # port pidfile -> config on stdout
    cat <<CONF
worker_processes 1;
pid $2;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 128; }
    server {
        listen 127.0.0.1:$1;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer sk-bench";
        }
    }
}
CONF
}

# Starts one target, optionally under a wrapper ($WRAP: valgrind, strace),
# and sets TPID (the process to signal) and TURL.  Targets: nginx, relay,
# floor [floor-proxy args...].
start_target() { # name kind [args...]
    t_name=$1 t_kind=$2
    shift 2
    # A stale .out from an earlier run of the same name would give its URL.
    rm -f "$WORK/$t_name.out"
    case $t_kind in
    nginx)
        t_port=$(free_port)
        nginx_conf "$t_port" "$WORK/nginx/$t_name.pid" >"$WORK/nginx/$t_name.conf"
        # One process (no master), as bench/relay.sh measures it.
        $WRAP "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/$t_name.conf" -g 'daemon off; master_process off;' \
            >"$WORK/$t_name.out" 2>"$WORK/$t_name.err" &
        TPID=$!
        PIDS="$PIDS $TPID"
        TURL="http://127.0.0.1:$t_port"
        wait_http "$TURL/health"
        ;;
    relay)
        $WRAP "$BIN/cutover-relay" --port 0 --blue-url "$MOCK/v1" --green-url "$MOCK/v1" --api-key sk-bench \
            --rate-limit-requests 0 --health-interval-ms 0 >"$WORK/$t_name.out" 2>"$WORK/$t_name.err" &
        TPID=$!
        PIDS="$PIDS $TPID"
        TURL=$(wait_url "$WORK/$t_name.out")
        ;;
    floor)
        $WRAP "$BIN/floor-proxy" --port 0 --upstream "$UP" "$@" >"$WORK/$t_name.out" 2>"$WORK/$t_name.err" &
        TPID=$!
        PIDS="$PIDS $TPID"
        TURL=$(wait_url "$WORK/$t_name.out")
        ;;
    esac
    # Under strace the process to stop is strace's child.
    if [ "${WRAP%% *}" = strace ]; then
        i=0
        t_c=""
        while [ -z "$t_c" ] && [ $i -lt 100 ]; do
            t_c=$(cat "/proc/$TPID/task/$TPID/children" 2>/dev/null | awk '{print $1}')
            [ -n "$t_c" ] || sleep 0.05
            i=$((i + 1))
        done
        SPID=$TPID
        TPID=$t_c
        PIDS="$PIDS $TPID"
    fi
}

stop_target() { # kind
    if [ "$1" = nginx ]; then kill -QUIT "$TPID" 2>/dev/null || true; else kill -TERM "$TPID" 2>/dev/null || true; fi
    i=0
    while kill -0 "$TPID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$TPID" 2>/dev/null || true
    if [ -n "${SPID:-}" ]; then wait "$SPID" 2>/dev/null || true; SPID=""; fi
    wait "$TPID" 2>/dev/null || true
    # A crash, an assertion or an MHD panic makes the row worthless: say so.
    if grep -qi 'assert\|panic\|aborted\|fatal error\|segmentation\|sanitizer' "$WORK"/*.err 2>/dev/null; then
        echo "bench: a target crashed:" >&2
        grep -il 'assert\|panic\|aborted\|fatal error\|segmentation\|sanitizer' "$WORK"/*.err >&2
    fi
}

wrk_post_lua "$WORK/post.lua"
# The same request, but each wrk thread stops after FLOOR_N requests (strace;
# wrk itself still waits out its -d).
cat "$WORK/post.lua" >"$WORK/count.lua"
cat >>"$WORK/count.lua" <<'LUA'
local done, limit = 0, tonumber(os.getenv("FLOOR_N"))
function response(status, headers, body)
    done = done + 1
    if done >= limit then wrk.thread:stop() end
end
LUA

TCK=$(getconf CLK_TCK)
# run_wrk url [pid] -> "rps p50_ms p99_ms errors cpu_us_per_request"; the
# proxy's CPU time (user + system, /proc/PID/stat) per request is less at
# the mercy of the other processes on the machine than requests/s is.
run_wrk() {
    t0=$( [ -n "${2:-}" ] && cpu_ticks "$2" || echo 0)
    sum=$(wrk -t2 -c64 -d"${DUR}s" --latency -s "$WORK/post.lua" "$1/v1/chat/completions" |
        wrk_summary -)
    t1=$( [ -n "${2:-}" ] && cpu_ticks "$2" || echo 0)
    set -- $sum
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="$5" -v hz="$TCK" 'BEGIN { if (n > 0 && b > a) printf "%.1f", (b - a) * 1e6 / hz / n; else print "-" }')
    echo "$1 $2 $3 $4 $cpu"
}

# Every knob turned back (what a first cut on the same stack does), with the
# relay's 8 KiB MHD pool.
NAIVE="--knob curlu=0 --knob url_once=0 --knob noproxy=0 --knob noproxy_list=0 --knob nopipe=0"
NAIVE="$NAIVE --knob http11=0 --knob no_accept=0 --knob reuse=0 --knob info_ctype=0"
NAIVE="$NAIVE --knob inline_go=0 --knob persistent=0 --knob mhd_mem=8192"
CG_CONNS=16

OUT="$WORK/table.md"
: >"$OUT"
say() { echo "$*" >>"$OUT"; }

say "### $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($(uname -r)), load average at start: $LOAD_START"
say ""

# ---- requests/s and latency -----------------------------------------------
if want wrk; then
    WRAP=""
    start_target nginx nginx; NG_PID=$TPID; NG_URL=$TURL
    start_target relay relay; RL_PID=$TPID; RL_URL=$TURL
    start_target fnone floor --json none; FN_PID=$TPID; FN_URL=$TURL
    start_target freq floor --json request; FR_PID=$TPID; FR_URL=$TURL
    start_target fboth floor --json both; FB_PID=$TPID; FB_URL=$TURL
    for u in "$MOCK" "$NG_URL" "$RL_URL" "$FN_URL" "$FR_URL" "$FB_URL"; do
        wrk -t1 -c8 -d1s -s "$WORK/post.lua" "$u/v1/chat/completions" >/dev/null
    done
    say "wrk -t2 -c64 -d${DUR}s, $ROUNDS rounds (every path once per round, in this order); CPU is the"
    say "proxy process's user + system time per request"
    say ""
    say "| round | path | requests/s | % of nginx | p50 ms | p99 ms | errors | added p50 ms | within nginx's + 0.5 ms | CPU µs/request |"
    say "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    : >"$WORK/rows"
    r=1
    while [ $r -le "$ROUNDS" ]; do
        set -- $(run_wrk "$MOCK"); D_P50=$2
        say "| $r | direct (mock) | $1 | | $2 | $3 | $4 | | | |"
        set -- $(run_wrk "$NG_URL" "$NG_PID"); N_RPS=$1 N_ADD=$(awk -v a="$2" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}')
        say "| $r | nginx 1 worker, keepalive 128 | $1 | 100% | $2 | $3 | $4 | $N_ADD | | $5 |"
        echo "0nginx $1 100 $N_ADD $5 -" >>"$WORK/rows"
        for t in "1relay $RL_PID $RL_URL cutover-relay" "2none $FN_PID $FN_URL floor --json none" \
            "3request $FR_PID $FR_URL floor --json request" "4both $FB_PID $FB_URL floor --json both"; do
            set -- $t
            key=$1 pid=$2 u=$3
            shift 3
            label="$*"
            set -- $(run_wrk "$u" "$pid")
            pct=$(awk -v a="$1" -v b="$N_RPS" 'BEGIN {printf "%.0f", 100 * a / b}')
            add=$(awk -v a="$2" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}')
            ok=$(awk -v a="$add" -v n="$N_ADD" 'BEGIN {print (a <= n + 0.5) ? "yes" : "no"}')
            say "| $r | $label | $1 | $pct% | $2 | $3 | $4 | $add | $ok | $5 |"
            echo "$key $1 $pct $add $5 $(awk -v a="$add" -v n="$N_ADD" 'BEGIN {printf "%.3f", a - n}')" >>"$WORK/rows"
        done
        r=$((r + 1))
    done
    say ""
    say "Medians over the $ROUNDS rounds (the % and the p50 margin are taken within each round first):"
    say ""
    say "| path | requests/s | % of nginx (target >= 70%) | added p50 ms | added p50 minus nginx's (target <= 0.5) | CPU µs/request |"
    say "|---|---:|---:|---:|---:|---:|"
    med() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
    for key in 0nginx 1relay 2none 3request 4both; do
        label=$(echo "$key" | sed 's/^0nginx/nginx/; s/^1relay/cutover-relay/; s/^2/floor --json /; s/^3/floor --json /; s/^4/floor --json /')
        rps=$(awk -v k="$key" '$1 == k {print $2}' "$WORK/rows" | med)
        pct=$(awk -v k="$key" '$1 == k {print $3}' "$WORK/rows" | med)
        add=$(awk -v k="$key" '$1 == k {print $4}' "$WORK/rows" | med)
        cpu=$(awk -v k="$key" '$1 == k {print $5}' "$WORK/rows" | med)
        mar=$(awk -v k="$key" '$1 == k {print $6}' "$WORK/rows" | med)
        say "| $label | $rps | $pct% | $add | $mar | $cpu |"
    done
    say ""
    say "load average after the wrk rounds: $(uptime | sed 's/.*load average: //')"
    say ""
    for p in $NG_PID; do kill -QUIT "$p" 2>/dev/null || true; done
    for p in $RL_PID $FN_PID $FR_PID $FB_PID; do kill -TERM "$p" 2>/dev/null || true; done
fi

# ---- instructions per request ------------------------------------------------
# cg_run name kind load(0|1) [args]: sets CG_IR and CG_REQS, keeps the
# profile as $WORK/cg.<name>.<load>.  Runs in this shell (not in a $(...))
# so that the cleanup trap knows every PID.
cg_run() {
    c_name=$1 c_kind=$2 c_load=$3
    shift 3
    WRAP="valgrind --tool=callgrind --callgrind-out-file=$WORK/cg.$c_name.$c_load"
    start_target "cg$c_name" "$c_kind" "$@"
    CG_REQS=0
    if [ "$c_load" = 1 ]; then
        c_t=2
        [ "$CG_CONNS" -ge 2 ] || c_t=1
        wrk -t$c_t -c"$CG_CONNS" -d"${CG_DUR}s" -s "$WORK/post.lua" "$TURL/v1/chat/completions" >"$WORK/cg.wrk" 2>&1 || true
        CG_REQS=$(awk '/requests in/ {print $1}' "$WORK/cg.wrk")
        if [ "${CG_REQS:-0}" = 0 ]; then
            CG_REQS=0
            echo "bench: $c_name: no request served under callgrind; wrk said:" >&2
            cat "$WORK/cg.wrk" >&2
            tail -5 "$WORK/cg$c_name.err" >&2
        fi
        c_errs=$(awk '/Non-2xx/ {n += $NF} END {print n + 0}' "$WORK/cg.wrk")
        [ "$c_errs" = 0 ] || echo "bench: $c_name: $c_errs non-2xx answers under callgrind" >&2
    fi
    stop_target "$c_kind"
    CG_IR=$(awk '/^summary:/ {print $2}' "$WORK/cg.$c_name.$c_load")
}
# per_req name kind [args]: sets PR_IR (Ir per request, idle subtracted)
# and PR_N (requests).
per_req() {
    p_name=$1 p_kind=$2
    shift 2
    cg_run "$p_name" "$p_kind" 0 "$@"
    p_idle=$CG_IR
    cg_run "$p_name" "$p_kind" 1 "$@"
    PR_N=$CG_REQS
    echo "$PR_N" >"$WORK/cg.$p_name.n"
    PR_IR=$(awk -v idle="$p_idle" -v busy="$CG_IR" -v n="$PR_N" 'BEGIN { if (n > 0) printf "%.0f", (busy - idle) / n; else print "n/a" }')
}

if want cg; then
    say "Instructions per proxied request (callgrind, wrk -t2 -c16 -d${CG_DUR}s, idle run subtracted)"
    say ""
    say "| path | Ir/request | requests | x nginx |"
    say "|---|---:|---:|---:|"
    per_req nginx nginx
    CG_NGINX=$PR_IR
    say "| nginx | $PR_IR | $PR_N | 1.0x |"
    for t in "relay relay" "none floor --json none" "request floor --json request" "both floor --json both"; do
        set -- $t
        n=$1
        shift
        label=$( [ "$n" = relay ] && echo "cutover-relay" || echo "floor --json $n")
        per_req "$n" "$@"
        x=$(awk -v a="$PR_IR" -v b="$CG_NGINX" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.1fx", a / b; else print "n/a" }')
        say "| $label | $PR_IR | $PR_N | $x |"
    done
    say ""
    say "3x nginx = $(awk -v b="$CG_NGINX" 'BEGIN {printf "%.0f", 3 * b}') Ir/request"
    say ""

    # Where the floor's instructions go: exclusive Ir by library (object),
    # and the inclusive Ir of the entry points, per request, idle subtracted.
    for mode in none both; do
        busy="$WORK/cg.$mode.1" idle="$WORK/cg.$mode.0"
        [ -f "$busy" ] || continue
        say "Floor --json $mode by library (exclusive Ir per request):"
        say ""
        say "| library | Ir/request |"
        say "|---|---:|"
        byobj() { callgrind_annotate --auto=no --threshold=100 "$1" 2>/dev/null | awk '
            /^ *[0-9,]+ +\([ 0-9.]+%\) .*\[.*\]$/ { v = $1; gsub(",", "", v); o = $NF
                gsub(/[][]/, "", o); sub(/.*\//, "", o); sub(/\.so.*/, "", o); s[o] += v }
            END { for (o in s) print o, s[o] }'; }
        byobj "$idle" >"$WORK/obj.idle"
        byobj "$busy" >"$WORK/obj.busy"
        n=$(cat "$WORK/cg.$mode.n" 2>/dev/null || echo 0)
        awk -v n="$n" 'NR == FNR { idle[$1] = $2; next }
            { d = ($2 - idle[$1]) / n; if (d >= 50) printf "%d %s\n", d, $1 }' \
            "$WORK/obj.idle" "$WORK/obj.busy" | sort -rn | awk '{printf "| %s | %d |\n", $2, $1}' >>"$OUT"
        say ""
        # A function with code inlined from headers is listed once per
        # source file, each time with the whole inclusive cost: take the
        # largest, not the sum.
        say "Floor --json $mode, inclusive Ir per request of the entry points:"
        say ""
        say "| function | Ir/request |"
        say "|---|---:|"
        incl() { callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$1" 2>/dev/null | awk '
            /^ *[0-9,]+ +\([ 0-9.]+%\) / { v = $1; gsub(",", "", v); f = $0
                sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, "", f); sub(/ \[.*/, "", f); sub(/.*:/, "", f); if (v + 0 > s[f] + 0) s[f] = v + 0 }
            END { for (f in s) print f, s[f] }'; }
        incl "$idle" >"$WORK/fn.idle"
        incl "$busy" >"$WORK/fn.busy"
        awk -v n="$n" 'NR == FNR { idle[$1] = $2; next }
            { busy[$1] = $2 }
            END { split("ev_run MHD_run on_request curl_multi_socket_action curl_multi_add_handle " \
                        "curl_multi_remove_handle curl_multi_info_read curl_easy_setopt curl_easy_getinfo " \
                        "curl_url_dup curl_url_get curl_maprintf curl_mvsnprintf curl_msnprintf " \
                        "json_loadb json_delete MHD_queue_response MHD_create_response_from_buffer " \
                        "MHD_add_response_header MHD_suspend_connection MHD_resume_connection " \
                        "MHD_lookup_connection_value malloc free calloc realloc " \
                        "__memset_avx2_unaligned_erms __memcpy_avx_unaligned_erms __isoc99_sscanf " \
                        "getenv clock_gettime", fns, " ")
                  for (i = 1; i in fns; i++) { f = fns[i]; d = (busy[f] - idle[f]) / n
                      if (f in busy && d >= 50) printf "| %s | %d |\n", f, d } }' \
            "$WORK/fn.idle" "$WORK/fn.busy" >>"$OUT"
        say ""
    done
fi

# ---- the knob sweep --------------------------------------------------------
# One client connection (wrk -t1 -c1): no batching of requests per loop
# iteration, so a knob's effect is not lost in how requests happened to
# batch.  Each configuration KNOB_REPS times; the median and the range.
knob_row() { # label [floor-proxy args...] -> a table row; K_MED is the median
    k_label=$1
    shift
    k_all=""
    k_i=1
    while [ $k_i -le "$KNOB_REPS" ]; do
        per_req "k$k_i" floor --json none "$@"
        k_all="$k_all $PR_IR"
        k_i=$((k_i + 1))
    done
    # A run that served nothing (n/a) is left out, and said.
    K_MED=$(echo $k_all | tr ' ' '\n' | grep -v n/a | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    k_rng=$(echo $k_all | tr ' ' '\n' | grep -v n/a | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}')
    case "$k_all" in *n/a*) k_rng="$k_rng (a run failed)" ;; esac
    k_d=$(awk -v a="$K_MED" -v t="${K_TUNED:-$K_MED}" 'BEGIN {printf "%+d", a - t}')
    say "| $k_label | $K_MED | $k_rng | $k_d |"
}
if [ "$KNOBS" = 1 ] && want knobs; then
    KNOB_REPS=${KNOB_REPS:-3}
    SAVE_CONNS=$CG_CONNS SAVE_DUR=$CG_DUR
    CG_CONNS=1 CG_DUR=${KNOB_DUR:-4}
    say "Knob sweep: floor --json none, Ir/request (callgrind, wrk -t1 -c1 -d${CG_DUR}s, idle run"
    say "subtracted, median of $KNOB_REPS runs).  \"tuned\" has every knob at its default; each other row"
    say "changes one knob; the last column is the row's median minus tuned's (positive: the default saves that much)."
    say ""
    say "| configuration | Ir/request | range | vs tuned |"
    say "|---|---:|---:|---:|"
    K_TUNED=""
    knob_row tuned
    K_TUNED=$K_MED
    for k in curlu=0 url_once=0 reuse=0 mhd_mem=8192 mhd_mem=65536 mhd_mem=2048 no_date=1 \
        noproxy=0 noproxy_list=0 nopipe=0 http11=0 no_accept=0 info_ctype=0 inline_go=0 \
        persistent=0 turbo=0 bufsize=4096; do
        knob_row "$k" --knob "$k"
    done
    knob_row "as the relay does it (URL per request, header callback, 8 KiB pool)" \
        --knob curlu=0 --knob url_once=0 --knob info_ctype=0 --knob mhd_mem=8192
    knob_row "naive (every knob back, 8 KiB pool)" $NAIVE
    # curl 7.88 appends the request head to its buffer one character at a
    # time through its printf: a real key (sk-proj-..., 164 characters)
    # costs more than the 8 of sk-bench.
    knob_row "tuned, with a 164-character API key (the length of an sk-proj key)" \
        --api-key "sk-proj-$(printf '%0156d' 0)"
    say ""
    CG_CONNS=$SAVE_CONNS CG_DUR=$SAVE_DUR
fi

# ---- syscalls per request --------------------------------------------------
if want strace; then
    say "Syscalls per request (strace -c -f, wrk -t2 -c16 stopping after $STRACE_N requests or ${STRACE_S} s):"
    say ""
    say "| path | requests | total | recvfrom/read | sendto/sendmsg/write | poll | epoll_wait | epoll_ctl | other |"
    say "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    per_thread=$((STRACE_N / 2))
    for t in "nginx nginx" "relay relay" "floor-tuned floor --json none" "floor-naive floor --json none $NAIVE"; do
        set -- $t
        n=$1
        shift
        WRAP="strace -f -c -o $WORK/st.$n"
        start_target "st$n" "$@"
        kind=$1
        FLOOR_N=$per_thread wrk -t2 -c16 -d"${STRACE_S}s" -s "$WORK/count.lua" "$TURL/v1/chat/completions" >"$WORK/st.wrk" 2>&1 || true
        reqs=$(awk '/requests in/ {print $1}' "$WORK/st.wrk")
        stop_target "$kind"
        # strace -c columns: % seconds usecs/call calls [errors] syscall
        awk -v n="$reqs" -v name="$n" '
            $1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
                c = $4; s = $NF; tot += c
                if (s == "recvfrom" || s == "read" || s == "readv" || s == "recvmsg") rd += c
                else if (s == "sendto" || s == "sendmsg" || s == "write" || s == "writev") wr += c
                else if (s == "poll" || s == "ppoll") pl += c
                else if (s == "epoll_wait" || s == "epoll_pwait") ew += c
                else if (s == "epoll_ctl") ec += c
                else ot += c }
            END { if (n > 0) printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                  name, n, tot / n, rd / n, wr / n, pl / n, ew / n, ec / n, ot / n }' "$WORK/st.$n" >>"$OUT"
        # The full table, for the reader who wants the other syscalls.
        { echo "$n ($reqs requests):"; sed -n '1,40p' "$WORK/st.$n"; } >>"$WORK/strace.txt"
    done
    say ""
    say '<details><summary>strace -c tables</summary>'
    say ""
    say '```'
    cat "$WORK/strace.txt" >>"$OUT"
    say '```'
    say '</details>'
    say ""
fi

say "load average at the end: $(uptime | sed 's/.*load average: //')"
cat "$OUT"
if [ -n "$APPEND" ]; then
    {
        echo
        cat "$OUT"
        echo
        echo "Command: \`sh bench/floor.sh --duration $DUR --rounds $ROUNDS --cg-duration $CG_DUR --strace-requests $STRACE_N${ONLY:+ --only $ONLY}\`"
    } >>"$APPEND"
fi
