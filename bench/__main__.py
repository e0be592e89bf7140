"""`make bench`: run every benchmark module, print each figure with its budget, and write them
all to var/bench.json as {"name": {"value": ..., "unit": ..., "budget": ...}}.

Each module in bench/ that defines `run() -> dict[str, Figure]` is a benchmark; they run in
name order, each in its own temporary database set up by bench.harness.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import bench
from bench.harness import Figure, django_setup


def main(selected: list[str]) -> int:
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
            figures[key] = figure
            sys.stdout.write(f"{figure.line(key)}\n")
            sys.stdout.flush()
    out = Path(settings.VAR_DIR) / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() and selected else {}
    existing.update({k: f.as_json() for k, f in figures.items()})
    out.write_text(json.dumps(existing, indent=2, sort_keys=True))
    sys.stdout.write(f"written to {out}\n")
    over = [k for k, f in figures.items() if not f.within_budget]
    if over:
        sys.stdout.write(f"OVER BUDGET: {', '.join(over)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
