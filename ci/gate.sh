#!/bin/sh
# cutover regression gate: build, run the scenario library against a relay,
# publish JUnit and results.json, and let the exit code decide.
#
#   ci/gate.sh [SCENARIO_PATH...]
#
# Environment (all optional):
#   CUTOVER_OUT         output folder                  (default: out)
#   CUTOVER_RELAY       a relay profile name (cutover-relay, nginx, haproxy) or a
#                       relay command template, e.g.
#                       'node relay.js --port {port} --blue {blue_url} --green {green_url}'
#                       (default: the bundled cutover-relay; docs/profiles.md has
#                       the rule that tells a profile name from a command)
#   CUTOVER_SEED        seed of every random decision   (default: 42)
#   CUTOVER_TIME_SCALE  stretch every time and tolerance (default: 1; try 2 on slow runners)
#   CUTOVER_FILTER      only scenarios with this tag
#   CUTOVER_REPEAT      run each scenario N times and report flaky ones (default: 1)
#   CUTOVER_JOBS        scenarios run side by side, N at once (default: cutover's,
#                       min(2 x cores, 4); 1 for one after the other)
#   CUTOVER_SKIP_BUILD  set to 1 when bin/cutover is already built
#
# Exit codes (from cutover run): 0 all passed, 1 a check failed, 2 invalid
# scenario or flags, 3 harness error (a port, the relay did not start or is
# not installed), 4 inconclusive (too few samples: no data is never a pass).
# A run that ran nothing is never green: 0 scenarios in the JUnit file is 3.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here" || exit 3

out=${CUTOVER_OUT:-out}
if [ "${CUTOVER_SKIP_BUILD:-0}" != 1 ]; then
    make -j2 WERROR=1 >"${TMPDIR:-/tmp}/cutover-build.log" 2>&1 || {
        cat "${TMPDIR:-/tmp}/cutover-build.log"
        echo "gate: build failed" >&2
        exit 3
    }
fi

set -- "$@"
[ $# -eq 0 ] && set -- scenarios/
set -- run "$@" --out "$out" --junit "$out/junit.xml" --json "$out/results.json" \
    --seed "${CUTOVER_SEED:-42}" --time-scale "${CUTOVER_TIME_SCALE:-1}" \
    --repeat "${CUTOVER_REPEAT:-1}"
[ -n "${CUTOVER_FILTER:-}" ] && set -- "$@" --filter "$CUTOVER_FILTER"
[ -n "${CUTOVER_RELAY:-}" ] && set -- "$@" --relay "$CUTOVER_RELAY"
[ -n "${CUTOVER_JOBS:-}" ] && set -- "$@" --jobs "$CUTOVER_JOBS"

bin/cutover "$@"
rc=$?
# Nothing run is never a pass, whatever the exit code said.
if [ "$rc" = 0 ] && ! grep -q '<testsuites name="cutover" tests="[1-9]' "$out/junit.xml" 2>/dev/null; then
    echo "gate: no scenario ran (see $out/junit.xml)" >&2
    rc=3
fi
case $rc in
0) echo "gate: PASS" ;;
1) echo "gate: FAIL (a check failed; see $out/junit.xml)" ;;
2) echo "gate: INVALID INPUT (fix the scenario or flags)" ;;
3) echo "gate: HARNESS ERROR (the relay did not start, a port, a timeout)" ;;
4) echo "gate: INCONCLUSIVE (too few samples; not a pass)" ;;
*) echo "gate: unexpected exit $rc" ;;
esac
exit $rc
