"""`make bench` stays alive and fails loudly.

The smoke run executes every benchmark at a tiny size in a subprocess (its own in-memory SQLite
scratch databases and var dir, so it never touches this test's database), and judges only the
figures that count things: remote calls, 429s and queries. Timings are not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench.harness import Figure

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(600)  # five benchmarks, each migrating its own scratch database
def test_every_benchmark_runs_at_smoke_size_and_its_counts_hold(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env |= {
        "DJANGO_DEBUG": "true",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DFY_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads((tmp_path / "bench-smoke.json").read_text())
    # A smoke run never overwrites the real figures.
    assert not (tmp_path / "bench.json").exists()
    # One figure of every benchmark, so a benchmark that silently stopped running shows.
    for key in (
        "check_40_api_calls",
        "draft_autosave_p95_ms",
        "history_queries_per_page_200",
        "poll_api_calls",
        "quote_overhead_ratio",
    ):
        assert key in figures, sorted(figures)
    # The counted figures and their budgets, as judged at any size.
    assert figures["check_40_api_calls"]["value"] <= 10
    assert figures["check_40_rate_limited"]["value"] == 0
    assert (
        figures["poll_api_calls"]["value"] == 2
    )  # 20 orders + 60 mailboxes, pages of 100
    assert figures["poll_rate_limited"]["value"] == 0
    assert (
        figures["history_queries_per_page_200"]["value"]
        == figures["history_queries_per_page_25"]["value"]
    )
    assert (
        figures["admin_orders_queries_200_rows"]["value"]
        == figures["admin_orders_queries_10_rows"]["value"]
    )
    # Timings are reported without a budget: a tiny run on a busy machine proves nothing.
    assert figures["quote_overhead_ratio"]["budget"] is None
    assert figures["draft_page_p95_ms"]["budget"] is None


def _fake_benchmark(
    monkeypatch: pytest.MonkeyPatch, figures: dict[str, Figure]
) -> None:
    """Make `bench` see exactly one benchmark module, `bench.fake`, returning `figures`."""
    import pkgutil

    module = types.ModuleType("bench.fake")
    module.run = lambda: figures  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.fake", module)
    real_iter = pkgutil.iter_modules

    def only_fake(path: Any = None, prefix: str = "") -> Any:
        return [m for m in real_iter(path, prefix) if m.name == "harness"] + [
            pkgutil.ModuleInfo(None, "fake", False)  # type: ignore[arg-type]
        ]

    monkeypatch.setattr(pkgutil, "iter_modules", only_fake)


@pytest.mark.parametrize("smoke", [False, True])
def test_a_count_over_budget_fails_the_run(
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    smoke: bool,
) -> None:
    from bench import __main__ as bench_main
    from bench import harness

    monkeypatch.setattr(harness, "SMOKE", False)  # main() sets it; undone afterwards
    settings.VAR_DIR = tmp_path
    _fake_benchmark(
        monkeypatch,
        {
            "fake_api_calls": Figure(11, "calls", budget=10),
            "fake_ms": Figure(5, "ms", budget=100),
        },
    )
    assert bench_main.main(["--smoke"] if smoke else []) == 1
    out = capsys.readouterr().out
    assert "OVER BUDGET: fake_api_calls" in out


def test_a_slow_timing_fails_a_full_run_but_not_a_smoke_run(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    from bench import __main__ as bench_main
    from bench import harness

    monkeypatch.setattr(harness, "SMOKE", False)
    settings.VAR_DIR = tmp_path
    _fake_benchmark(monkeypatch, {"fake_ms": Figure(500, "ms", budget=100)})
    assert bench_main.main(["--smoke"]) == 0
    assert json.loads((tmp_path / "bench-smoke.json").read_text())["fake_ms"] == {
        "value": 500,
        "unit": "ms",
        "budget": None,
    }
    assert bench_main.main([]) == 1
    assert json.loads((tmp_path / "bench.json").read_text())["fake_ms"]["budget"] == 100
