"""The audit table: for each bug, the checks that fail with it and did not
fail on the correct relay (OUT/none), first few named.
   python3 tests/outsider/table.py OUT BUG..."""
import json
import os
import sys

# relay_overhead and latency: the Python relay on a loaded machine, not a bug (round 2).
NOISE = {"harness_on_time", "clean_shutdown", "relay_alive", "relay_overhead", "latency"}


def load(path):
    out = {}
    for s in json.load(open(path))["scenarios"]:
        for c in s.get("checks", []):
            out[(s["name"], c["label"])] = c
    return out


out_dir, bugs = sys.argv[1], sys.argv[2:]
base = load(os.path.join(out_dir, "none", "results.json"))
print("| bug | caught | new failures (scenario: check, measured) |")
print("|---|---|---|")
for b in bugs:
    path = os.path.join(out_dir, b, "results.json")
    if not os.path.exists(path):
        print(f"| {b} | not run | |")
        continue
    hits = []
    for k, c in load(path).items():
        if c["check"] in NOISE or c["status"] != "fail":
            continue
        if base.get(k, {}).get("status") != "fail":
            hits.append(f"{k[0]}: {c['check']} ({c['measured'][:50]})")
    cell = "; ".join(hits[:4]).replace("|", "/") + (f"; +{len(hits) - 4} more" if len(hits) > 4 else "")
    print(f"| {b} | {'yes' if hits else 'no'} | {cell} |")
