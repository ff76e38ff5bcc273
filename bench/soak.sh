#!/bin/sh
# Soak of cutover-relay: SOAK_REQUESTS (default 1,000,000) requests through
# the relay with seeded random faults on both colours, bounded by
# SOAK_SECONDS (default 900).  The driver is tests/integration/test_soak.c
# (make test runs it short); this runs it long and keeps its samples:
#   docs/soak.csv        relay RSS and open fds (and the mocks' RSS) each second
#   docs/soak-relay.svg  the plot of RSS and fds against requests done
#   docs/soak.json       the run's numbers (lost, doubled, late, rates, RSS, fds)
# Usage: sh bench/soak.sh            (from the repository root)
set -eu
cd "$(dirname "$0")/.."
make -j2 all build/rel/tests/test_soak >/dev/null
: "${SOAK_REQUESTS:=1000000}" "${SOAK_SECONDS:=900}" "${SOAK_CONC:=64}" "${SOAK_SEED:=42}"
export SOAK_REQUESTS SOAK_SECONDS SOAK_CONC SOAK_SEED
export SOAK_SAMPLE_MS=1000 SOAK_CSV=docs/soak.csv SOAK_SVG=docs/soak-relay.svg SOAK_JSON=docs/soak.json
echo "soak: $SOAK_REQUESTS requests, at most $SOAK_SECONDS s, $SOAK_CONC connections, seed $SOAK_SEED"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
CUTOVER_BIN=bin build/rel/tests/test_soak
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat docs/soak.json
