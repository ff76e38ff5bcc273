"""Round 4's table (docs/outsider-audit.md): for each bug, the checks that
fail with it and not on the correct relay (OUT/none), before round 4 (its
r4- scenarios left out) and after (all of them), the first few named.
   python3 tests/outsider/table4.py OUT BUG..."""
import sys

from auditlib import cell, print_table


def cells(found):
    hits = [(k[0], f"{k[0]}: {c['check']} ({c['measured'][:60]})") for k, c in found]
    before = [h for s, h in hits if "-r4-" not in s]
    after = [h for _, h in hits]
    return [("yes: " + cell(before, 3)) if before else "**no**",
            ("yes: " + cell(after, 3)) if after else "**no**"]


print_table(sys.argv, ["before round 4", "after"], cells)
