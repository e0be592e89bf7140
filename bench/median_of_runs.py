"""The median of several `make bench` runs, as the rows of docs/performance.md's Results table.

    .venv/bin/python -m bench.median_of_runs var/bench-run1.json var/bench-run2.json var/bench-run3.json

Each figure's value, p50 and p95 are the medians of its values in the runs that measured it
(a figure missing from a run is left out of that run, and the row says over how many runs);
n is the sample count of one run. One row per figure, PostgreSQL + Redis beside SQLite, in the
order the figures first appear. The budget printed is the latest run's: an embedded timing's
budget is 1.5x its run's PostgreSQL figure, so it differs between runs.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

BACKENDS = ("postgres", "sqlite")


def medians(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """name@backend -> the figure with its value, p50 and p95 replaced by their medians."""
    merged: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(key for run in runs for key in run):
        seen = [run[name] for run in runs if name in run]
        figure = dict(seen[-1])
        for field in ("value", "p50", "p95"):
            values = [f[field] for f in seen if f.get(field) is not None]
            if values:
                figure[field] = statistics.median(values)
        figure["runs"] = len(seen)
        merged[name] = figure
    return merged


def number(value: float) -> str:
    """Four significant digits, thousands whole and grouped: a table row, not a data dump."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def cell(figure: dict[str, Any] | None) -> str:
    if figure is None:
        return "—"
    text = f"{number(figure['value'])} {figure['unit']}".strip()
    if figure.get("n") is not None:
        text += f" ({figure['p50']:.1f} / {figure['p95']:.1f}, n={figure['n']})"
    if figure["runs"] < 3:
        text += f" [{figure['runs']} run{'s' if figure['runs'] > 1 else ''}]"
    return text


def budget(figure: dict[str, Any] | None) -> str:
    if figure is None or figure.get("budget") is None:
        return "—"
    sign = "≤" if figure.get("kind", "max") == "max" else "≥"
    verdict = "ok" if _within(figure) else "OVER"
    return f"{sign} {number(figure['budget'])} {figure['unit']} {verdict}"


def _within(figure: dict[str, Any]) -> bool:
    if figure.get("kind", "max") == "max":
        return bool(figure["value"] <= figure["budget"])
    return bool(figure["value"] >= figure["budget"])


def rows(merged: dict[str, dict[str, Any]]) -> list[str]:
    names = dict.fromkeys(key.rpartition("@")[0] or key for key in merged)
    lines = []
    for name in names:
        deployed = merged.get(f"{name}@postgres")
        embedded = merged.get(f"{name}@sqlite")
        if deployed is None and embedded is None:
            continue
        lines.append(
            f"| `{name}` | {cell(deployed)} | {budget(deployed)} "
            f"| {cell(embedded)} | {budget(embedded)} |"
        )
    return lines


def main(argv: list[str]) -> int:
    if not argv:
        sys.stdout.write(__doc__ or "")
        return 2
    runs = [json.loads(Path(path).read_text()) for path in argv]
    sys.stdout.write("\n".join(rows(medians(runs))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
