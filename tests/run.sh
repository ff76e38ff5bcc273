#!/bin/sh
# Runs each test program given, keeps going after a failure, and closes with
# one summary line "tests: N passed, N failed, N skipped (why)" counting test
# programs' cases as cmocka reports them.  A test that skips prints a line
# "SKIP <why>: <details>" first (why is short: "nginx not installed"); the
# closing line gathers those reasons.  Exit status is non-zero when anything
# failed.
passed=0
failed=0
skipped=0
why=$(mktemp)
bad=""
scenarios=""
if [ "${1:-}" = "--scenarios" ]; then
    scenarios=$2
    shift 2
fi
for t in "$@"; do
    name=$(basename "$t")
    log=$(mktemp)
    echo "== $name"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    k=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    skipped=$((skipped + k))
    r=$(sed -n 's/^SKIP \([^:]*\):.*/\1/p' "$log")
    [ "$k" -gt 0 ] && [ -z "$r" ] && r="$name gave no reason"
    [ -n "$r" ] && echo "$r" >>"$why"
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1 # crashed or exited non-zero without a cmocka verdict
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$rc" != 0 ] && bad="$bad $name"
    rm -f "$log"
done
# The scenario library counts too: each scenario is one test, and anything
# but a pass (fail, inconclusive, harness error, invalid) is a failure.
if [ -n "$scenarios" ]; then
    echo "== scenarios: $scenarios"
    log=$(mktemp)
    $scenarios >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[0-9]+ scenario\(s\): ' "$log" | tail -1)
    p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
    t=$(echo "$line" | sed -n 's/^\([0-9]*\) scenario.*/\1/p')
    p=${p:-0}
    t=${t:-0}
    f=$((t - p))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$rc" != 0 ] && bad="$bad scenarios"
    rm -f "$log"
fi
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
