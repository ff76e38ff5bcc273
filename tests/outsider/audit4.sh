#!/bin/sh
# Outsider audit round 4 (docs/outsider-audit.md): the folders the round's
# bugs are about against tests/outsider/relay4.py (Python asyncio, raw
# streams), as it is and with each BUG in turn, then the table (table4.py).
#   sh tests/outsider/audit4.sh [OUT] [BUG...]     (run from the repository root)
set -u
OUT=${1:-/tmp/outsider-audit4}
[ $# -gt 0 ] && shift
BUGS=${*:-$(python3 -c 'import re;print(" ".join(re.findall(r"^    \"(\w+)\": \"", open("tests/outsider/relay4.py").read(), re.M)))')}
SET="scenarios/answers scenarios/backoff scenarios/contract scenarios/outsider scenarios/ratelimit
 scenarios/retry scenarios/streaming scenarios/faults2
 scenarios/edges/mmisc-retry-after-http-date.json scenarios/edges/all-attempts-time-out-504.json
 scenarios/edges/try-timeout-cuts-slow-answer.json scenarios/edges/front-errors-openai-shape.json
 scenarios/edges/gateway-504-switches.json scenarios/edges/deadline-inside-one-slow-attempt.json
 scenarios/failover/blue-503-to-green.json scenarios/failover/connection-refused.json scenarios/edges/ratelimit-ignores-refused.json
 scenarios/edges/retry-after-beyond-time-left.json scenarios/edges/retryable-statuses-retried.json scenarios/edges/mcover2-client-gone-before-first-chunk.json"
mkdir -p "$OUT/profiles"
for b in none $BUGS; do
    p="$OUT/profiles/relay4-$b.json"
    python3 tests/outsider/auditlib.py profile tests/outsider/relay4.json relay4 "$b" "$p" \
        "python3 $PWD/tests/outsider/relay4.py"
    # shellcheck disable=SC2086
    bin/cutover run $SET --relay "$p" --out "$OUT/$b" --no-color --jobs 2 >"$OUT/$b.log" 2>&1
    echo "$b: exit $? $(tail -4 "$OUT/$b.log" | grep -o '[0-9]* scenario(s):.*in [0-9.]* s')"
done
python3 tests/outsider/table4.py "$OUT" $BUGS
