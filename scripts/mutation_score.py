"""The verdict core's mutation score, from mutmut's stats; exits 1 below the thresholds.

Run by `make mutation` after `mutmut run` and `mutmut export-cicd-stats`. Two scores:
- *tested*: killed / (every mutant a test ran against): how well the tests that exist judge;
- *all*: killed / every mutant, so code no test runs counts as surviving.
Equivalent mutants are not counted at all: their lines carry ``# pragma: no mutate`` with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STATS = Path("mutants/mutmut-cicd-stats.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-tested", type=float, default=0.95, help="lowest score over tested mutants (0.95)")
    parser.add_argument("--min-all", type=float, default=0.90, help="lowest score over all mutants (0.90)")
    args = parser.parse_args()
    if not STATS.is_file():
        print(f"error: {STATS} is missing: run `mutmut run` and `mutmut export-cicd-stats` first", file=sys.stderr)
        return 2
    stats = json.loads(STATS.read_text())
    killed, total, untested = stats["killed"], stats["total"] - stats["skipped"], stats["no_tests"]
    tested = total - untested
    score_tested = killed / tested if tested else 0.0
    score_all = killed / total if total else 0.0
    print(f"mutants: {total}; killed {killed}, survived {stats['survived']}, no test {untested}, "
          f"timeout {stats['timeout']}, suspicious {stats['suspicious']}")
    print(f"score over tested mutants: {score_tested:.1%} (at least {args.min_tested:.0%})")
    print(f"score over all mutants:    {score_all:.1%} (at least {args.min_all:.0%})")
    if score_tested < args.min_tested or score_all < args.min_all:
        print("below the threshold: `mutmut results` lists the survivors, `mutmut show NAME` shows one")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
