#!/bin/sh
# Soak of cutover-relay: SOAK_REQUESTS (default 1,000,000) requests through
# the relay with seeded random faults on both colours, bounded by
# SOAK_SECONDS (default 900).  The driver is tests/integration/test_soak.c
# (make test runs it short); this runs it long and keeps its samples:
#   docs/soak.csv        relay RSS and open fds (and the mocks' RSS) each second
#   docs/soak-relay.svg  the plot of RSS and fds against requests done
#   docs/soak.json       the run's numbers (lost, doubled, late, rates, RSS, fds)
# and writes its section of docs/bench.md (between soak markers).
# Usage: sh bench/soak.sh            (from anywhere; `make soak`)
#        SOAK_REPORT_ONLY=1 sh bench/soak.sh   rewrites the section from docs/soak.json
set -eu
cd "$(dirname "$0")/.."
make -j2 all build/rel/tests/test_soak >/dev/null
: "${SOAK_REQUESTS:=1000000}" "${SOAK_SECONDS:=900}" "${SOAK_CONC:=64}" "${SOAK_SEED:=42}"
export SOAK_REQUESTS SOAK_SECONDS SOAK_CONC SOAK_SEED
export SOAK_SAMPLE_MS=1000 SOAK_CSV=docs/soak.csv SOAK_SVG=docs/soak-relay.svg SOAK_JSON=docs/soak.json
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "soak: $SOAK_REQUESTS requests, at most $SOAK_SECONDS s, $SOAK_CONC connections, seed $SOAK_SEED"
echo "machine: $(nproc) cores, load $LOAD0"
LOG=$(mktemp /tmp/cutover-soak.XXXXXX)
trap 'rm -f "$LOG"' EXIT
RC=0
if [ "${SOAK_REPORT_ONLY:-0}" = 1 ]; then
    # Rewrite the bench.md section from the last run's docs/soak.json.
    LOAD0=${SOAK_LOAD0:-$LOAD0}
    STARTED=${SOAK_STARTED:-$STARTED}
    python3 -c 'import json,sys; j=json.load(open("docs/soak.json")); sys.exit(0 if all(j[k]==0 for k in ("lost","twice","late","wrong_id","events_missing","events_doubled","events_mismatch")) else 1)' || RC=1
else
    CUTOVER_BIN=bin build/rel/tests/test_soak >"$LOG" 2>&1 || RC=$?
    cat "$LOG"
fi
LOAD1=${SOAK_LOAD1:-$(cut -d' ' -f1-3 /proc/loadavg)}
echo "load after: $LOAD1"
cat docs/soak.json

SECTION=$(mktemp /tmp/cutover-soak-md.XXXXXX)
{
echo "<!-- soak:begin (written by bench/soak.sh; do not edit by hand) -->"
echo
echo "# Soak: bench/soak.sh"
echo
echo "Measured by \`sh bench/soak.sh\` (\`make soak\`) on $STARTED, $(nproc) cores, load average"
echo "before $LOAD0, after $LOAD1 (other engineers were compiling). Driver: tests/integration/test_soak.c"
echo "(the same test runs ~20 s in \`make test\`). Verdict: $( [ $RC = 0 ] && echo PASS || echo "FAIL (exit $RC)")."
echo
echo "$SOAK_REQUESTS requests asked for (bounded at $SOAK_SECONDS s), $SOAK_CONC keep-alive connections, 10% streams,"
echo "through one cutover-relay (max 3 attempts, 5-50 ms full-jitter backoff, 300 ms per try, 2 s deadline,"
echo "Retry-After capped at 100 ms, health checks every 500 ms, event log on) in front of two mocks"
echo "that each inject, by seeded dice per request: 503 (3%), 429 with retry-after-ms 20 (2%), reset"
echo "before any byte (1%), silence (0.4%), and for streams a cut after 2 chunks (3%)."
echo
echo "Each request id must get exactly one answer, within deadline + 1.5 s, carrying its own id, and"
echo "exactly one \`request\` event in the relay's log with the same status."
echo
python3 - docs/soak.json <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print("| requests | seconds | req/s | 2xx | 4xx | 5xx | failed upstream attempts | lost | answered twice | late | wrong id | events missing / doubled / mismatched | worst ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
print("| %d | %.0f | %.0f | %d | %d | %d | %d | %d | %d | %d | %d | %d / %d / %d | %d |" % (
    j["requests"], j["seconds"], j["rps"], j["ok"], j["4xx"], j["5xx"], j["failed_attempts"], j["lost"],
    j["twice"], j["late"], j["wrong_id"], j["events_missing"], j["events_doubled"], j["events_mismatch"], j["worst_ms"]))
print()
print("Relay RSS: mean %.1f MB in the second quarter of the run, %.1f MB in the last, max %.1f MB." % (
    j["rss_q2_mb"], j["rss_q4_mb"], j["rss_max_mb"]))
print("Relay open fds: mean %.0f in the second quarter, %.0f in the last, max %d (64 client" % (
    j["fds_q2"], j["fds_q4"], j["fds_max"]))
print("connections plus the upstream pools of both colours, which breathe with resets and timeouts).")
PY
echo
echo "![relay RSS and fds during the soak](soak-relay.svg)"
echo
echo "Samples: [soak.csv](soak.csv) (one a second: requests done, relay RSS and fds, mocks' RSS)."
echo
echo "<!-- soak:end -->"
} >"$SECTION"
OUT=docs/bench.md
if [ -f "$OUT" ] && grep -q '<!-- soak:begin' "$OUT"; then
    awk -v f="$SECTION" '
        /<!-- soak:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- soak:end/ { skip = 0; next }
        !skip { print }' "$OUT" >"$SECTION.new" && cp "$SECTION.new" "$OUT"
else
    { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$SECTION"; } >"$SECTION.new" && cp "$SECTION.new" "$OUT"
fi
rm -f "$SECTION" "$SECTION.new"
exit $RC
