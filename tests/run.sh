#!/bin/sh
# Runs each test program given, keeps going after a failure, and closes with
# one summary line "tests: N passed, N failed, N skipped (why)" counting test
# programs' cases as cmocka reports them.  A test that skips prints a line
# "SKIP <why>: <details>" first (why is short: "nginx not installed"); the
# closing line gathers those reasons.  Exit status is non-zero when anything
# failed.
#
# Programs run TEST_JOBS at a time (default 2), the scenario library first as
# the longest job: most of a test's time is spent waiting on timers and
# sockets, not on the CPU, so two at once take about half the serial
# wall time on 2 cores.  Every test holds its timing bounds on a loaded
# 2-core machine (lower bounds strict, upper bounds with a multiplier) and
# uses its own ports and folders, so a neighbour cannot change a verdict.
# TEST_JOBS=1 runs them one after another.  Each program's output is kept
# whole and printed in start order as soon as it and those before it ended.
jobs=${TEST_JOBS:-2}
case $jobs in
'' | *[!0-9]* | 0)
    echo "tests/run.sh: TEST_JOBS must be a positive integer, not '$jobs'" >&2
    exit 2
    ;;
esac
passed=0
failed=0
skipped=0
why=$(mktemp)
dir=$(mktemp -d)
bad=""
scenarios=""
if [ "${1:-}" = "--scenarios" ]; then
    scenarios=$2
    shift 2
fi
[ -n "$scenarios" ] && set -- scenarios "$@"

# Runs job $1 (a program's path, or "scenarios") into $dir/$2.log; $2.rc
# appears when it ended.
run_one() {
    if [ "$1" = scenarios ]; then
        $scenarios >"$dir/$2.log" 2>&1
    else
        "$1" >"$dir/$2.log" 2>&1
    fi
    echo $? >"$dir/$2.rc.tmp" && mv "$dir/$2.rc.tmp" "$dir/$2.rc"
}

# Counts one ended job: the library's line "N scenario(s): N passed ..."
# (each scenario one test; anything but a pass is a failure), or a cmocka
# program's PASSED/FAILED/SKIPPED lines.
tally() { # name log rc
    if [ "$1" = scenarios ]; then
        echo "== scenarios: $scenarios"
        cat "$2"
        line=$(grep -E '^[0-9]+ scenario\(s\): ' "$2" | tail -1)
        p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
        s=$(echo "$line" | sed -n 's/^\([0-9]*\) scenario.*/\1/p')
        p=${p:-0}
        f=$((${s:-0} - p))
        [ "$3" != 0 ] && [ "$f" = 0 ] && f=1
        passed=$((passed + p))
        failed=$((failed + f))
        [ "$3" != 0 ] && bad="$bad scenarios"
        return 0
    fi
    name=$(basename "$1")
    echo "== $name"
    cat "$2"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$2" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$2" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test.*/\1/p' "$2" | awk '{s+=$1} END {print s+0}')
    skipped=$((skipped + s))
    r=$(sed -n 's/^SKIP \([^:]*\):.*/\1/p' "$2")
    [ "$s" -gt 0 ] && [ -z "$r" ] && r="$name gave no reason"
    [ -n "$r" ] && echo "$r" >>"$why"
    # crashed or exited non-zero without a cmocka verdict
    [ "$3" != 0 ] && [ "$f" = 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$3" != 0 ] && bad="$bad $name"
    return 0
}

# Prints and counts the ended jobs in start order, up to the first one still
# running, so the output streams and never interleaves.
done_upto=0
flush() {
    while [ $done_upto -lt $started ] && [ -e "$dir/$done_upto.rc" ]; do
        tally "$(cat "$dir/$done_upto.name")" "$dir/$done_upto.log" "$(cat "$dir/$done_upto.rc")"
        done_upto=$((done_upto + 1))
    done
}

# At most $jobs at once.  POSIX sh has no "wait for any one", so an ended job
# is seen by its .rc file.
started=0
for t in "$@"; do
    while :; do
        live=0
        i=$done_upto
        while [ $i -lt $started ]; do
            [ -e "$dir/$i.rc" ] || live=$((live + 1))
            i=$((i + 1))
        done
        [ $live -lt "$jobs" ] && break
        sleep 0.2
        flush
    done
    echo "$t" >"$dir/$started.name"
    run_one "$t" $started &
    started=$((started + 1))
done
wait
flush
rm -rf "$dir"

[ -n "$bad" ] && echo "failing programs:$bad"
# "chromium, nginx, haproxy not installed" when every reason is a missing
# tool, else the reasons as they are, separated by "; ".
reasons=""
if [ -s "$why" ]; then
    if grep -qv ' not installed$' "$why"; then
        reasons=$(awk '!seen[$0]++' "$why" | paste -sd ';' - | sed 's/;/; /g')
    else
        reasons="$(sed 's/ not installed$//' "$why" | awk '!seen[$0]++' | paste -sd ',' - | sed 's/,/, /g') not installed"
    fi
    reasons=" ($reasons)"
fi
rm -f "$why"
echo "tests: $passed passed, $failed failed, $skipped skipped$reasons"
[ "$failed" = 0 ] && [ -z "$bad" ]
