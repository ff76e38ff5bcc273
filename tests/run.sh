#!/bin/sh
# Runs each test program given, keeps going after a failure, and closes with
# one summary line "tests: N passed, N failed" counting test programs' cases
# as cmocka reports them.  Exit status is non-zero when anything failed.
passed=0
failed=0
bad=""
for t in "$@"; do
    name=$(basename "$t")
    log=$(mktemp)
    echo "== $name"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1 # crashed or exited non-zero without a cmocka verdict
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$rc" != 0 ] && bad="$bad $name"
    rm -f "$log"
done
[ -n "$bad" ] && echo "failing programs:$bad"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ -z "$bad" ]
