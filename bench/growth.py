"""Growth: the order history, the dashboard and the admin order list as one workspace grows
from 10,000 to 30,000 and 100,000 orders, with 20 mailboxes each as in bench/history.py
(200,000 to 2,000,000 mailboxes), on PostgreSQL + Redis only.

The fixture and the page variants are bench/history.py's: the workspace is filled to the first
size, vacuumed and analysed, measured, filled up to the next, and so on. Each size gives a timing
figure per page (p50, p95, n); the slope figure of a page is its median at the largest size over
its median at the smallest. A page whose work grows with the workspace would show 10x there
(linear), 3.2x if it grew with the square root; a flat or logarithmic page stays near 1x (a
logarithm of the row count grows by 1.25x from 10,000 to 100,000). Medians, not p95s, because
one stall of a shared machine moves a p95 of a few dozen samples.

The run draws var/bench-growth.svg. `python -m bench.growth` redraws it from var/bench.json and
`--update-docs` also refreshes docs/performance-growth.svg, the copy docs/performance.md shows:
run it after the quiet run whose figures the docs quote.

    make bench ARGS=growth                         # minutes: 100,000 orders are generated
    .venv/bin/python -m bench.growth --update-docs
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

from bench import history
from bench.harness import Figure, scratch_database, size, timing

DEPLOYED_ONLY = True
# At smoke size still past bench/history.py's searched row and deep pages.
SIZES = (size(10_000, 100), size(30_000, 150), size(100_000, 200))
MAILBOXES_PER_ORDER = size(20, 5)
PAGES = ("history", "dashboard", "admin_orders")
TITLES = {
    "history": "Order history",
    "dashboard": "Dashboard",
    "admin_orders": "Admin order list",
}
# Median at the largest size over the smallest: linear growth would be 10x and square-root
# growth 3.2x; flat or logarithmic stays under 1.25x, the rest is room for a shared machine.
SLOPE_BUDGET = 2.0
CHART = "bench-growth.svg"
DOCS_CHART = Path(__file__).resolve().parent.parent / "docs" / "performance-growth.svg"
KEY = re.compile(r"^growth_(?P<page>[a-z_]+)_(?P<orders>\d+)_p95_ms@postgres$")


class Point(NamedTuple):
    orders: int
    p50: float
    p95: float


def run() -> dict[str, Figure]:
    with scratch_database("growth"):
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.db import connection

    workspace, requesters, approvers = history.bench_workspace()
    history.other_workspace_add(history.OTHER_ORDERS)
    figures: dict[str, Figure] = {}
    series: dict[str, list[Point]] = {page: [] for page in PAGES}
    # Per page, each variant's median at each size: which request grew, when one did.
    by_variant: dict[str, list[list[tuple[str, float]]]] = {page: [] for page in PAGES}
    bench = None
    for step, orders in enumerate(SIZES):
        added = orders - (SIZES[step - 1] if step else 0)
        started = time.perf_counter()
        result = history.orders_add(
            workspace,
            requesters,
            approvers,
            orders=added,
            mailboxes=added * MAILBOXES_PER_ORDER,
            seed=7 + step,
        )
        _settle()
        fill = figures[f"growth_fixture_{orders}_s"] = Figure(
            time.perf_counter() - started,
            "s",
            note=f"{result.orders:,} orders and {result.mailboxes:,} mailboxes added",
        )
        # The figures print when the whole run ends, minutes later: say how far it got.
        sys.stdout.write(f"   {orders:,} orders in {fill.value:.0f} s, measuring\n")
        sys.stdout.flush()
        bench = bench or history.clients_login(workspace, requesters, approvers)
        variants = history.page_variants(bench)
        samples = history.page_samples(bench, variants, history.ROUNDS)
        note = history.data_note(workspace)
        for page in PAGES:
            figure = timing(samples[page], note=note)
            figures[f"growth_{page}_{orders}_p95_ms"] = figure
            series[page].append(Point(orders, figure.p50 or 0.0, figure.p95 or 0.0))
            by_variant[page].append(_variant_medians(variants[page], samples[page]))
    for page in PAGES:
        figures[f"growth_{page}_slope_x"] = _slope(series[page], by_variant[page])
    setup = "PostgreSQL + Redis" if connection.vendor == "postgresql" else "SQLite"
    chart_draw(series, Path(settings.VAR_DIR) / CHART, setup)
    return figures


def _variant_medians(
    variants: list[history.Variant], samples: list[float]
) -> list[tuple[str, float]]:
    """Each variant's median, labelled by its query string: `page_samples` takes every
    variant's samples in turn, `history.ROUNDS` of them each."""
    rounds = history.ROUNDS
    return [
        (
            (url.partition("?")[2] or "plain") + (" (htmx)" if extra else ""),
            statistics.median(samples[n * rounds : (n + 1) * rounds]),
        )
        for n, (url, extra) in enumerate(variants)
    ]


def _slope(points: list[Point], by_variant: list[list[tuple[str, float]]]) -> Figure:
    """The median at the largest size over the smallest, and the variant that grew most
    (compared by position: the searched mailbox differs from one size to the next)."""
    pairs = zip(by_variant[0], by_variant[-1], strict=True)
    _, label, before, after = max(
        (after / before, label, before, after) for (_, before), (label, after) in pairs
    )
    return Figure(
        points[-1].p50 / points[0].p50,
        "x",
        budget=SLOPE_BUDGET,
        note=f"p50 at {points[-1].orders:,} / at {points[0].orders:,} orders, linear "
        f"would be {points[-1].orders / points[0].orders:g}x; grew most: {label} "
        f"{before:.0f} -> {after:.0f} ms",
    )


def _settle() -> None:
    """VACUUM ANALYZE after a fill, as autovacuum would do on its own: now, so that it does
    not start in the middle of the measurement (minutes after a million inserts, it would),
    and so that index-only scans find the visibility map set, as on a long-lived database."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def series_read(bench_json: Path) -> dict[str, list[Point]]:
    """The growth figures measured on PostgreSQL + Redis in var/bench.json, by page."""
    series: dict[str, list[Point]] = {}
    for key, data in json.loads(bench_json.read_text()).items():
        match = KEY.match(key)
        if match and match["page"] in PAGES:
            point = Point(int(match["orders"]), data["p50"], data["p95"])
            series.setdefault(match["page"], []).append(point)
    return {page: sorted(points) for page, points in series.items()}


def chart_draw(
    series: dict[str, list[Point]], path: Path, setup: str = "PostgreSQL + Redis"
) -> None:
    """p95 (solid) and p50 (dashed) per page against the orders in the workspace, on a log
    scale so that logarithmic growth shows as a straight line; the goals as dotted lines."""
    # The object API, not pyplot: no display backend, no global state.
    import matplotlib
    from matplotlib.figure import Figure as Canvas

    canvas = Canvas(figsize=(8, 3.8), layout="constrained")
    axes = canvas.subplots()
    for page, colour in zip(
        PAGES, ("tab:blue", "tab:orange", "tab:green"), strict=True
    ):
        points = series.get(page, [])
        if not points:
            continue
        orders = [p.orders for p in points]
        axes.plot(
            orders, [p.p95 for p in points], "o-", color=colour, label=TITLES[page]
        )
        axes.plot(orders, [p.p50 for p in points], "o--", color=colour, alpha=0.5)
        axes.axhline(history.BUDGETS_MS[page], color=colour, linestyle=":", linewidth=1)
    for goal in sorted({history.BUDGETS_MS[page] for page in series}):
        axes.annotate(
            f"goal {goal:g} ms",
            (0, goal),
            xycoords=("axes fraction", "data"),
            xytext=(4, 2),
            textcoords="offset points",
            fontsize=8,
        )
    all_orders = sorted({p.orders for points in series.values() for p in points})
    axes.set_xscale("log")
    axes.set_xticks(all_orders, [f"{n:,}" for n in all_orders])
    axes.minorticks_off()
    highest = max(
        [history.BUDGETS_MS[page] for page in series]
        + [p.p95 for points in series.values() for p in points]
    )
    axes.set_ylim(0, highest * 1.12)
    axes.set_xlabel("orders in the workspace (20 mailboxes each), log scale")
    axes.set_ylabel("server time, ms")
    axes.set_title(f"{setup}: p95 (solid), p50 (dashed), goal (dotted)", fontsize=10)
    canvas.legend(loc="outside right upper", fontsize=9)
    axes.grid(True, axis="y", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No date and fixed element ids: a redrawn chart of the same figures is the same file.
    with matplotlib.rc_context({"svg.hashsalt": "dfy-growth"}):
        canvas.savefig(path, metadata={"Date": None})


def main(argv: list[str]) -> int:
    from bench.harness import django_setup

    django_setup()  # for DFY_VAR_DIR as the settings resolve it
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    series = series_read(var_dir / "bench.json")
    if not series:
        sys.stdout.write(f"no growth figures in {var_dir / 'bench.json'}\n")
        return 1
    chart_draw(series, var_dir / CHART)
    sys.stdout.write(f"drawn to {var_dir / CHART}\n")
    if "--update-docs" in argv:
        shutil.copyfile(var_dir / CHART, DOCS_CHART)
        sys.stdout.write(f"copied to {DOCS_CHART}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
