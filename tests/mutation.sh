#!/bin/sh
# Mutation run over cutover-relay: how many realistic relay bugs does the
# scenario library catch?
#
#   tests/mutation.sh [--fast] [MUTANT...]      (make mutation, make mutation-fast)
#
# Each mutant is a patch under tests/mutants/ (one realistic bug; its header
# says what a user would report, its family, and the scenario expected to
# kill it).  It is applied to a copy of relay/ and common/ under
# build/mutation/NAME/src, never to the product source; the copy's
# cutover-relay is built and the library runs against it (--relay-bin).  A
# mutant is killed when at least one scenario fails (a check failed, exit 1);
# inconclusive, invalid or harness errors do not count as kills.
#
# Full mode runs the whole library per mutant, after a baseline run of the
# unmutated relay: a scenario that fails the baseline kills nothing.  --fast
# (CI) runs only the mutants listed in tests/mutants/FAST, each against its
# Killed-by scenario, and fails unless every one is killed: a change that
# weakens a check is caught on the commit that made it.
#
# Output: a console table; build/mutation/mutation.json
# ({"mutants":[{name, family, report, status, killed_by, folders, checks}],
#   "killed", "total", "score"}); per mutant the build log, run log and
# results.json.  Exit 0 when the score reaches MUTATION_MIN (default 0.95;
# --fast: 1.0), 1 below it, 3 on a setup error.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 3
out=${MUTATION_OUT:-build/mutation}
seed=${MUTATION_SEED:-42}
fast=0
if [ "${1:-}" = --fast ]; then
    fast=1
    shift
fi
command -v jq >/dev/null || { echo "mutation: jq is needed to read results.json" >&2; exit 3; }
[ -x bin/cutover ] || { echo "mutation: build first (make)" >&2; exit 3; }
mkdir -p "$out" || exit 3

if [ $# -gt 0 ]; then
    names=$*
elif [ $fast = 1 ]; then
    names=$(grep -v '^#' tests/mutants/FAST)
else
    names=$(ls tests/mutants/*.patch | sed 's|.*/||; s|\.patch$||')
fi

header() { # header FIELD PATCH: the value of "FIELD: ..." in the patch's preamble
    sed -n "s/^$1: //p" "$2" | head -1
}

# The baseline: scenarios the unmutated relay fails cannot kill anything.
baseline_fail=""
if [ $fast = 0 ]; then
    echo "mutation: baseline run of the unmutated relay"
    bin/cutover run scenarios/ --seed "$seed" --out "$out/baseline" --json "$out/baseline.json" \
        >"$out/baseline.log" 2>&1
    baseline_fail=$(jq -r '.scenarios[] | select(.status == "fail") | .file' "$out/baseline.json")
    [ -n "$baseline_fail" ] && echo "mutation: baseline failures (excluded): $baseline_fail"
fi

rows="$out/rows.jsonl"
: >"$rows"
for name in $names; do
    p=tests/mutants/$name.patch
    [ -f "$p" ] || { echo "mutation: no such mutant: $p" >&2; exit 3; }
    dir=$out/$name
    rm -rf "$dir"
    mkdir -p "$dir/src"
    cp -r relay common scripts Makefile "$dir/src/"
    # The packages are there already (this tree built): skip the deps check.
    mkdir -p "$dir/src/build" && touch "$dir/src/build/.deps-ok"
    status=killed
    if ! patch -s -p1 -d "$dir/src" <"$p" >"$dir/patch.log" 2>&1; then
        status=patch_error
    elif ! make -s -C "$dir/src" -j2 bin/cutover-relay >"$dir/build.log" 2>&1 &&
        ! make -s -C "$dir/src" -j2 bin/cutover-relay >>"$dir/build.log" 2>&1; then
        # Twice: on a shared machine a link can fail for reasons of its own.
        status=build_error
    else
        scen=scenarios/
        [ $fast = 1 ] && scen=$(header Killed-by "$p")
        bin/cutover run $scen --seed "$seed" --relay-bin "$dir/src/bin/cutover-relay" \
            --out "$dir/out" --json "$dir/results.json" >"$dir/run.log" 2>&1
    fi
    killers='[]'
    checks='[]'
    if [ -f "$dir/results.json" ]; then
        excl=$(printf '%s\n' $baseline_fail | jq -R . | jq -s .)
        killers=$(jq -c --argjson ex "$excl" \
            '[.scenarios[] | select(.status == "fail") | select(.file as $f | $ex | index($f) | not) | .file]' \
            "$dir/results.json")
        checks=$(jq -c --argjson ex "$excl" \
            '[.scenarios[] | select(.status == "fail") | select(.file as $f | $ex | index($f) | not) | .checks[] | select(.status == "fail") | .check] | unique' \
            "$dir/results.json")
        [ "$killers" = '[]' ] && status=survived
    fi
    jq -nc --arg name "$name" --arg family "$(header Family "$p")" --arg report "$(header Report "$p")" \
        --arg status "$status" --argjson killed_by "$killers" --argjson checks "$checks" \
        '{name: $name, family: $family, report: $report, status: $status, killed_by: $killed_by,
          folders: ($killed_by | map(split("/")[-2]) | unique | length), checks: $checks}' >>"$rows"
    printf '%-34s %-12s %3s scenarios %2s folders  %s\n' "$name" "$status" \
        "$(echo "$killers" | jq length)" "$(jq -s '.[-1].folders' "$rows")" \
        "$(echo "$checks" | jq -r 'join(",")')"
done

jq -s '{mutants: ., total: length, killed: (map(select(.status == "killed")) | length)}
       | .score = (if .total > 0 then .killed / .total else 0 end)' "$rows" >"$out/mutation.json"
killed=$(jq .killed "$out/mutation.json")
total=$(jq .total "$out/mutation.json")
score=$(jq .score "$out/mutation.json")
echo "mutation: $killed of $total mutants killed (score $score); survivors:"
jq -r '.mutants[] | select(.status != "killed") | "  \(.name) [\(.status)]: \(.report)"' \
    "$out/mutation.json"
echo "mutation: $out/mutation.json"
min=${MUTATION_MIN:-0.95}
[ $fast = 1 ] && min=1
awk -v s="$score" -v m="$min" 'BEGIN { exit !(s + 0 >= m + 0) }' || exit 1
exit 0
