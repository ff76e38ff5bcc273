#!/usr/bin/env python3
"""The PASS audit's table (docs/outsider-audit.md): one row per scenario, one
column per run folder, each cell the scenario's status; a pass shows its
passing checks (the runner's own checks aside), which is what the audit reads.
Usage: table.py NAME=OUT_DIR ... (each OUT_DIR holds a results.json)."""
import json
import sys

RUNNER = {"harness_on_time", "relay_alive", "clean_shutdown", "no_secret_leak"}


def load(out):
    with open(out + "/results.json") as f:
        return {s.get("file", s["name"]): s for s in json.load(f)["scenarios"]}


def main(argv):
    cols = [a.split("=", 1) for a in argv]
    runs = [(name, load(out)) for name, out in cols]
    files = sorted(set().union(*(r.keys() for _, r in runs)))
    print("| scenario | " + " | ".join(n for n, _ in runs) + " |")
    print("|---|" + "---|" * len(runs))
    totals = [{} for _ in runs]
    for f in files:
        cells = []
        for i, (_, r) in enumerate(runs):
            s = r.get(f)
            st = s["status"] if s else "-"
            totals[i][st] = totals[i].get(st, 0) + 1
            if st == "pass":
                ok = [c["check"] for c in s["checks"]
                      if c["status"] == "pass" and c["check"] not in RUNNER]
                st = "**pass** (" + ", ".join(ok) + ")"
            cells.append(st)
        print("| %s | %s |" % (f.replace("scenarios/", ""), " | ".join(cells)))
    print("| **total** | " + " | ".join(
        ", ".join("%s %d" % (k, v) for k, v in sorted(t.items())) for t in totals) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
