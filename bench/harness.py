"""Shared pieces for benchmarks: figures with budgets and a throwaway database."""

from __future__ import annotations

import os
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
    # A timing over several samples (see `timing`) carries its median, its 95th percentile and
    # its sample count, whichever of the two `value` is: a p95 of 12 samples is one outlier.
    p50: float | None = None
    p95: float | None = None
    n: int | None = None
    # What it was measured on ("postgres": PostgreSQL + Redis, "sqlite": SQLite + files);
    # empty for figures that do not depend on it (mutation scores).
    backend: str = ""

    @property
    def within_budget(self) -> bool:
        if self.budget is None:
            return True
        return (
            self.value <= self.budget
            if self.kind == "max"
            else self.value >= self.budget
        )

    def line(self, name: str, *, judged: bool = True) -> str:
        spread = (
            ""
            if self.n is None
            else f"  (p50 {self.p50:.1f}, p95 {self.p95:.1f}, n={self.n})"
        )
        budget = (
            ""
            if self.budget is None or not judged
            else f"  (budget {'≤' if self.kind == 'max' else '≥'} {self.budget:g} {self.unit})"
        )
        verdict = (
            ""
            if self.budget is None or not judged
            else ("  ok" if self.within_budget else "  OVER")
        )
        note = f"  [{self.note}]" if self.note else ""
        return (
            f"{name:<40} {self.value:>12.3f} {self.unit}{spread}{budget}{verdict}{note}"
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "value": round(self.value, 4),
            "unit": self.unit,
            "budget": self.budget,
        }
        if self.kind != "max":
            data["kind"] = self.kind
        if self.n is not None:
            data |= {"p50": _rounded(self.p50), "p95": _rounded(self.p95), "n": self.n}
        if self.backend:
            data["backend"] = self.backend
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        return cls(
            value=data["value"],
            unit=data["unit"],
            budget=data.get("budget"),
            kind=data.get("kind", "max"),
            note=data.get("note", ""),
            p50=data.get("p50"),
            p95=data.get("p95"),
            n=data.get("n"),
            backend=data.get("backend", ""),
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def timing(
    samples: list[float],
    unit: str = "ms",
    *,
    at: int = 95,
    budget: float | None = None,
    note: str = "",
) -> Figure:
    """A timing figure over `samples`: its value is their `at`th percentile (95, or 50 for a
    median), with both percentiles and the sample count beside it."""
    p50, p95 = percentile(samples, 50), percentile(samples, 95)
    return Figure(
        p95 if at == 95 else p50,
        unit,
        budget=budget,
        note=note,
        p50=p50,
        p95=p95,
        n=len(samples),
    )


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dfyportal.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    import django

    django.setup()


@contextmanager
def scratch_database(purpose: str = "") -> Iterator[None]:
    """A fresh test database (SQLite's test file under DFY_VAR_DIR, or <name>_bench[_purpose]
    on PostgreSQL when DATABASE_URL names <name>), migrated, and destroyed afterwards; the same
    machinery pytest-django uses."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor == "postgresql":
        # Named after the configured database, not test_<name> nor a fixed name: a test run on
        # the same DATABASE_URL, or someone else's bench on the same server, is using those,
        # and the teardown below would cut their connections.
        name = connection.settings_dict["NAME"]
        suffix = f"_{purpose}" if purpose else ""
        connection.settings_dict["TEST"]["NAME"] = f"{name}_bench{suffix}"
    # Measured as deployed: no query log, no template debug information.
    settings.DEBUG = False
    for engine in settings.TEMPLATES:
        options = cast(dict[str, Any], engine.setdefault("OPTIONS", {}))
        options["debug"] = False
    settle()
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


def settle() -> None:
    """Let what the previous benchmark wrote reach the disk before the next one measures: the
    poll benchmark writes and drops 200,000 mailboxes, and PostgreSQL and the kernel were
    still writing them out while the quote benchmark (next in a full run) timed its pairs."""
    from django.db import DatabaseError, connection

    os.sync()
    if connection.vendor == "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
        except DatabaseError:
            pass  # a role without the right to checkpoint: the sync above is the rest


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    import time

    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples
