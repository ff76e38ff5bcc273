"""What the outsider audit's scripts share (docs/outsider-audit.md): the
tables (table.py, table3.py) read each bug's run against the correct
relay's (OUT/none) and print their rows the same way, and the audits (audit.sh, audit3.sh) make
each bug's relay profile from the correct one the same way.

As a command, the profile maker:
   python3 tests/outsider/auditlib.py profile TEMPLATE NAME BUG OUT COMMAND [KEY=VALUE...]
writes OUT: the profile TEMPLATE named NAME (NAME-BUG, '_' as '-', for a
bug other than none), its env BUG set (empty for none), its command
COMMAND, and each KEY=VALUE set (env.NAME=VALUE sets an environment
variable)."""
import json
import os
import sys

# Not a bug's doing.  relay_overhead and latency: the Python relay on a loaded
# machine (round 2).
NOISE = {"harness_on_time", "clean_shutdown", "relay_alive", "relay_overhead", "latency"}


def load(path):
    """A results.json's checks by (scenario name, check label)."""
    out = {}
    for s in json.load(open(path))["scenarios"]:
        for c in s.get("checks", []):
            out[(s["name"], c["label"])] = c
    return out


def baseline(out_dir):
    """The checks of the run against the correct relay."""
    return load(os.path.join(out_dir, "none", "results.json"))


def new_failures(out_dir, bug, base):
    """The checks (key, check) that failed with bug and not on the correct
    relay (base), noise left out; None when the bug was not run."""
    path = os.path.join(out_dir, bug, "results.json")
    if not os.path.exists(path):
        return None
    return [(k, c) for k, c in load(path).items()
            if c["check"] not in NOISE and c["status"] == "fail"
            and base.get(k, {}).get("status") != "fail"]


def cell(hits, first):
    """A table cell: the first few hits, then how many more ('' for none)."""
    more = f"; +{len(hits) - first} more" if len(hits) > first else ""
    return "; ".join(hits[:first]).replace("|", "/") + more


def print_table(argv, columns, cells):
    """argv: SCRIPT OUT BUG...; prints a markdown table with a row a bug:
    the bug, then cells(its new_failures) under columns, or 'not run'."""
    out_dir, bugs = argv[1], argv[2:]
    base = baseline(out_dir)
    print("| bug | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for b in bugs:
        found = new_failures(out_dir, b, base)
        if found is None:
            print(f"| {b} | not run | |")
            continue
        print(f"| {b} | " + " | ".join(cells(found)) + " |")


def make_profile(template, name, bug, out, command, sets):
    p = json.load(open(template))
    p["name"] = name if bug == "none" else name + "-" + bug.replace("_", "-")
    p["env"]["BUG"] = "" if bug == "none" else bug
    p["command"] = command
    for kv in sets:
        k, v = kv.split("=", 1)
        if k.startswith("env."):
            p["env"][k[4:]] = v
        else:
            p[k] = v
    json.dump(p, open(out, "w"), indent=1)


if __name__ == "__main__":
    if len(sys.argv) < 7 or sys.argv[1] != "profile":
        print("usage:" + __doc__.split("As a command, the profile maker:\n")[1], file=sys.stderr)
        sys.exit(2)
    make_profile(*sys.argv[2:7], sys.argv[7:])
