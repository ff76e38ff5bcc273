#!/bin/sh
# The outsider audit (docs/outsider-audit.md), reproduced: the scenario
# library against tests/outsider/relay.py as it is, then with each BUG in
# turn, and a table of what turned red.  Not part of make test (about two
# minutes a bug on two cores, 43 bugs); test_outsider pins the findings in
# about 40 s.  Name bugs to run only those.
#   sh tests/outsider/audit.sh [OUT] [BUG...]     (run from the repository root)
set -u
OUT=${1:-/tmp/outsider-audit}
[ $# -gt 0 ] && shift
BUGS=${*:-$(python3 -c 'import re;print(" ".join(re.findall(r"^    \"(\w+)\": \"", open("tests/outsider/relay.py").read(), re.M)))')}
mkdir -p "$OUT/profiles"
for b in none $BUGS; do
    p="$OUT/profiles/outsider-$b.json"
    python3 tests/outsider/auditlib.py profile tests/outsider/outsider.json outsider "$b" "$p" \
        "python3 $PWD/tests/outsider/relay.py"
    bin/cutover run scenarios/ --relay "$p" --out "$OUT/$b" --no-color --jobs 2 >"$OUT/$b.log" 2>&1
    echo "$b: exit $?"
done
python3 tests/outsider/table.py "$OUT" $BUGS
