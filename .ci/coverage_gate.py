"""Fail when the measured coverage is under either budget.

Coverage's own `fail_under` judges one blended figure; the budgets here are separate for lines
and branches, read from the JSON report `make test` writes.

    python .ci/coverage_gate.py var/coverage.json --lines 95 --branches 92
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", type=Path)
    parser.add_argument("--lines", type=float, required=True)
    parser.add_argument("--branches", type=float, required=True)
    args = parser.parse_args(argv)
    totals = json.loads(args.report.read_text())["totals"]
    lines = 100 * totals["covered_lines"] / max(1, totals["num_statements"])
    branches = 100 * totals["covered_branches"] / max(1, totals["num_branches"])
    failed = False
    for name, value, budget in (
        ("lines", lines, args.lines),
        ("branches", branches, args.branches),
    ):
        verdict = "ok" if value >= budget else "UNDER BUDGET"
        failed |= value < budget
        sys.stdout.write(
            f"coverage {name}: {value:.2f}% (budget {budget:g}%) {verdict}\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
