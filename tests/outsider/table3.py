"""Round 3's table (docs/outsider-audit.md): for each bug, the checks that
fail with it and not on the correct relay (OUT/none), split into the library
before round 3 and round 3's own scenarios (scenarios/outsider/ files named
below).  python3 tests/outsider/table3.py OUT BUG..."""
import sys

from auditlib import cell, print_table

ROUND3 = {"outsider-stream-pause-arrives-whole", "outsider-answers-in-their-encoding",
          "outsider-retry-after-reaches-the-client", "outsider-body-over-limit-refused",
          "outsider-client-auth-not-forwarded"}


def cells(found):
    old, new = [], []
    for k, c in found:
        (new if k[0] in ROUND3 else old).append(f"{k[0]}: {c['check']} ({c['measured'][:45]})")
    return [cell(old, 3) or "no", cell(new, 3) or "no"]


print_table(sys.argv, ["before round 3", "round 3 scenarios"], cells)
