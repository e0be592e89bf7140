"""`make bench`: run every benchmark module, print each figure with its budget, and write them
all to var/bench.json as {"name": {"value": ..., "unit": ..., "budget": ...}}.

Each module in bench/ that defines `run() -> dict[str, Figure]` is a benchmark; they run in
name order, each in its own temporary database set up by bench.harness. The exit status is 1
when any figure is over its budget, so CI and scripts notice.

`--smoke` runs every benchmark at a tiny size in seconds (bench.harness.size) and writes
var/bench-smoke.json instead: only counted figures (calls, refusals, queries) are judged, since
timings of a tiny run say nothing. tests/test_bench_smoke.py runs it in `make test`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from dataclasses import replace
from pathlib import Path

import bench
from bench import harness
from bench.harness import Figure, django_setup


def main(argv: list[str]) -> int:
    smoke = "--smoke" in argv
    selected = [arg for arg in argv if arg != "--smoke"]
    # Before any benchmark module is imported: their sizes are read at import time.
    harness.SMOKE = smoke
    django_setup()
    from django.conf import settings

    figures: dict[str, Figure] = {}
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name not in {"harness"}
    )
    for name in names:
        if selected and name not in selected:
            continue
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        sys.stdout.write(f"== {name}\n")
        sys.stdout.flush()
        for key, figure in module.run().items():
            if smoke and figure.unit not in harness.COUNTED_UNITS:
                figure = replace(figure, budget=None)
            figures[key] = figure
            sys.stdout.write(f"{figure.line(key)}\n")
            sys.stdout.flush()
    if not selected and not smoke:
        # The last `make mutate` (too slow to run here): its scores, next to the timings.
        from bench.mutation import latest_figures

        mutation = latest_figures()
        if mutation:
            sys.stdout.write("== mutation (latest var/mutation.json)\n")
        for key, figure in mutation.items():
            figures[key] = figure
            sys.stdout.write(f"{figure.line(key)}\n")
    out = Path(settings.VAR_DIR) / ("bench-smoke.json" if smoke else "bench.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() and selected else {}
    existing.update({k: f.as_json() for k, f in figures.items()})
    out.write_text(json.dumps(existing, indent=2, sort_keys=True))
    sys.stdout.write(f"written to {out}\n")
    over = [k for k, f in figures.items() if not f.within_budget]
    if over:
        sys.stdout.write(f"OVER BUDGET: {', '.join(over)}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
