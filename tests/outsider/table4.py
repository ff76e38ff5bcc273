"""Round 4's audit table (docs/outsider-audit.md): for each bug, the checks
that fail with it and held on the correct relay (OUT/none), before round 4
(its r4- scenarios left out) and after (all), the first few named.
   python3 tests/outsider/table4.py OUT BUG..."""
import json
import os
import sys

# relay_overhead and latency: a Python relay on a loaded machine, not a bug (round 2).
NOISE = {"harness_on_time", "clean_shutdown", "relay_alive", "relay_overhead", "latency"}


def load(path):
    out = {}
    for s in json.load(open(path))["scenarios"]:
        for c in s.get("checks", []):
            out[(s["name"], c["label"])] = c
    return out


def cell(hits):
    return "; ".join(hits[:3]).replace("|", "/") + (f"; +{len(hits) - 3} more" if len(hits) > 3 else "")


out_dir, bugs = sys.argv[1], sys.argv[2:]
base = load(os.path.join(out_dir, "none", "results.json"))
print("| bug | before round 4 | after |")
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
            hits.append((k[0], f"{k[0]}: {c['check']} ({c['measured'][:60]})"))
    before = [h for s, h in hits if "-r4-" not in s]
    after = [h for s, h in hits]
    print(f"| {b} | {'yes' if before else '**no**'}: {cell(before)} | {'yes' if after else '**no**'}: {cell(after)} |")
