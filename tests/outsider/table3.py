"""Round 3's table (docs/outsider-audit.md): for each bug, the checks that
fail with it and not on the correct relay (OUT/none), split into the library
before round 3 and round 3's own scenarios (scenarios/outsider/ files named
below).  python3 tests/outsider/table3.py OUT BUG..."""
import json
import os
import sys

NOISE = {"harness_on_time", "clean_shutdown", "relay_alive", "relay_overhead", "latency"}
ROUND3 = {"outsider-stream-pause-arrives-whole", "outsider-answers-in-their-encoding",
          "outsider-retry-after-reaches-the-client", "outsider-body-over-limit-refused",
          "outsider-client-auth-not-forwarded"}


def load(path):
    out = {}
    for s in json.load(open(path))["scenarios"]:
        for c in s.get("checks", []):
            out[(s["name"], c["label"])] = c
    return out


def cell(hits):
    if not hits:
        return "no"
    return "; ".join(hits[:3]).replace("|", "/") + (f"; +{len(hits) - 3} more" if len(hits) > 3 else "")


out_dir, bugs = sys.argv[1], sys.argv[2:]
base = load(os.path.join(out_dir, "none", "results.json"))
print("| bug | before round 3 | round 3 scenarios |")
print("|---|---|---|")
for b in bugs:
    path = os.path.join(out_dir, b, "results.json")
    if not os.path.exists(path):
        print(f"| {b} | not run | |")
        continue
    old, new = [], []
    for k, c in load(path).items():
        if c["check"] in NOISE or c["status"] != "fail" or base.get(k, {}).get("status") == "fail":
            continue
        (new if k[0] in ROUND3 else old).append(f"{k[0]}: {c['check']} ({c['measured'][:45]})")
    print(f"| {b} | {cell(old)} | {cell(new)} |")
