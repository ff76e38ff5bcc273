"""The audit table: for each bug, the checks that fail with it and did not
fail on the correct relay (OUT/none), first few named.
   python3 tests/outsider/table.py OUT BUG..."""
import sys

from auditlib import cell, print_table


def cells(found):
    hits = [f"{k[0]}: {c['check']} ({c['measured'][:50]})" for k, c in found]
    return ["yes" if hits else "no", cell(hits, 4)]


print_table(sys.argv, ["caught", "new failures (scenario: check, measured)"], cells)
