#!/bin/sh
# Outsider audit round 3 (docs/outsider-audit.md): the folders the round's
# bugs are about against tests/outsider/express3.js (Node/Express), as it is
# and with each BUG in turn, then the table (table.py).  Needs node and
# relays/examples/express/node_modules (npm install --prefix relays/examples/express).
#   sh tests/outsider/audit3.sh [OUT] [BUG...]     (run from the repository root)
set -u
OUT=${1:-/tmp/outsider-audit3}
[ $# -gt 0 ] && shift
BUGS=${*:-$(python3 -c 'import re;print(" ".join(re.findall(r"^  (\w+): \"", open("tests/outsider/express3.js").read(), re.M)))')}
SET="scenarios/streaming scenarios/answers scenarios/contract scenarios/outsider
 scenarios/clients/declared-body-over-limit-413-at-once.json scenarios/clients/connection-flood-held-to-max-clients.json
 scenarios/edges/front-errors-openai-shape.json scenarios/edges/all-attempts-time-out-504.json
 scenarios/edges/deadline-inside-one-slow-attempt.json scenarios/edges/try-timeout-cuts-slow-answer.json
 scenarios/edges/retry-after-beyond-time-left.json scenarios/edges/gateway-504-switches.json"
mkdir -p "$OUT/profiles"
for b in none $BUGS; do
    p="$OUT/profiles/express3-$b.json"
    python3 tests/outsider/auditlib.py profile tests/outsider/express3.json express3 "$b" "$p" \
        "node $PWD/tests/outsider/express3.js" \
        "env.NODE_PATH=$PWD/relays/examples/express/node_modules" "cwd=$PWD/tests/outsider"
    # shellcheck disable=SC2086
    bin/cutover run $SET --relay "$p" --out "$OUT/$b" --no-color --jobs 2 >"$OUT/$b.log" 2>&1
    echo "$b: exit $? $(tail -4 "$OUT/$b.log" | grep -o '[0-9]* scenario(s):.*in [0-9.]* s')"
done
python3 tests/outsider/table.py "$OUT" $BUGS
