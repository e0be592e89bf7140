"""Shared pieces for benchmarks: figures with budgets and a throwaway database."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

# Set by `python -m bench --smoke` before any benchmark module is imported: each one then runs
# at a tiny size, to prove in CI that it still works and that its call and query counts hold.
SMOKE = False
# Figures in these units count things rather than time them, so they mean the same at any size
# and on any machine; only these are judged in a smoke run.
COUNTED_UNITS = frozenset({"calls", "429s", "queries"})


def size(full: int, smoke: int) -> int:
    """The size a benchmark runs at: `full` normally, `smoke` under --smoke."""
    return smoke if SMOKE else full


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    budget: float | None = None
    # "max": value must be <= budget; "min": value must be >= budget.
    kind: str = "max"
    note: str = ""

    @property
    def within_budget(self) -> bool:
        if self.budget is None:
            return True
        return (
            self.value <= self.budget
            if self.kind == "max"
            else self.value >= self.budget
        )

    def line(self, name: str) -> str:
        budget = (
            ""
            if self.budget is None
            else f"  (budget {'≤' if self.kind == 'max' else '≥'} {self.budget:g} {self.unit})"
        )
        verdict = (
            "" if self.budget is None else ("  ok" if self.within_budget else "  OVER")
        )
        note = f"  [{self.note}]" if self.note else ""
        return f"{name:<28} {self.value:>12.3f} {self.unit}{budget}{verdict}{note}"

    def as_json(self) -> dict[str, Any]:
        return {"value": round(self.value, 4), "unit": self.unit, "budget": self.budget}


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dfyportal.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    import django

    django.setup()


@contextmanager
def scratch_database() -> Iterator[None]:
    """A fresh test database (SQLite in memory, or test_<name> on PostgreSQL when DATABASE_URL
    is set), migrated, and destroyed afterwards; the same machinery pytest-django uses."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    # Measured as deployed: no query log, no template debug information.
    settings.DEBUG = False
    for engine in settings.TEMPLATES:
        options = cast(dict[str, Any], engine.setdefault("OPTIONS", {}))
        options["debug"] = False
    old = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            # Server threads of a benchmark may still hold connections; the drop needs none.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        teardown_databases(old, verbosity=0)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    import time

    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples
