# Shared by the bench scripts (sourced, POSIX sh): stopping what a script
# started, free ports, waiting for a server, and the figures read off /proc
# and wrk.  A script sets BENCH_TMP (its scratch directory), appends every
# process it starts to PIDS, and traps bench_cleanup.

PIDS=""

# True while pid runs (a zombie waiting to be reaped does not count).
bench_alive() {
    [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Stops every process in PIDS by its PID: SIGTERM, up to 5 s each, then
# SIGKILL; then removes BENCH_TMP.
bench_cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do
        i=0
        while bench_alive "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
    done
    [ -z "${BENCH_TMP:-}" ] || rm -rf "$BENCH_TMP"
}

need() { # program
    command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is not installed (apt-get install $1)" >&2; exit 3; }
}

# A port free on 127.0.0.1 now, from the kernel (bind port 0 once).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Prints the first http://127.0.0.1:PORT that appears in file (a server's
# ready line), waiting up to tenths/10 seconds (default 20 s).
wait_url() { # file [tenths]
    i=0
    while [ $i -lt "${2:-200}" ]; do
        u=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$1" 2>/dev/null | head -n1 || true)
        [ -n "$u" ] && { echo "$u"; return 0; }
        sleep 0.1; i=$((i + 1))
    done
    echo "bench: nothing listening (see $1)" >&2
    return 3
}

# Waits until url answers at all, up to tenths/10 seconds (default 20 s).
wait_http() { # url [tenths]
    i=0
    until curl -s -o /dev/null "$1" || [ $i -ge "${2:-200}" ]; do sleep 0.1; i=$((i + 1)); done
}

# utime + stime ticks of the pids and their children.
cpu_ticks() { # pid...
    t=0
    for p in "$@"; do
        for q in $p $(cat /proc/$p/task/*/children 2>/dev/null); do
            v=$(awk '{print $14 + $15}' /proc/$q/stat 2>/dev/null || echo 0)
            t=$((t + ${v:-0}))
        done
    done
    echo $t
}

# VmRSS in kB of the pids and their children.
rss_kb() { # pid...
    t=0
    for p in "$@"; do
        for q in $p $(cat /proc/$p/task/*/children 2>/dev/null); do
            v=$(awk '/^VmRSS/ {print $2}' /proc/$q/status 2>/dev/null || echo 0)
            t=$((t + ${v:-0}))
        done
    done
    echo $t
}

fds() { ls "/proc/$1/fd" | wc -l; } # pid

# The one reader of wrk's output (a file, or - for stdin) for every bench
# script: "rps p50_ms p99_ms errors requests".  Errors are the non-2xx
# answers plus every socket error (connect, read, write, timeout); the
# percentiles need wrk --latency (0 without it).
wrk_summary() { # file|-
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        / requests in / { n = $1 }
        /Non-2xx/ { err += $NF }
        /Socket errors/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.3f %.3f %d %d\n", rps, p50, p99, err, n }' "$1"
}

# The wrk script every bench posts with: a chat completion request, body
# (default a one-word gpt-4.1 request) as JSON.
BENCH_HI='{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}'
wrk_post_lua() { # file [body]
    body=${2:-$BENCH_HI}
    cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
}
