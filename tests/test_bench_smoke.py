"""`make bench` stays alive and fails loudly.

The smoke run executes every benchmark at a tiny size in a subprocess (its own SQLite scratch
databases and var dir, so it never touches this test's database), and judges only the figures
that count things: remote calls, 429s and queries. Timings are not asserted. The choice of
backends, and the embedded default's budgets relative to the deployed configuration's, are
tested in process with a fake benchmark.
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


@pytest.mark.timeout(600)  # eight benchmarks, each migrating its own scratch database
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
    # One figure of every benchmark, so a benchmark that silently stopped running shows; each
    # named after the backend it ran on (here the embedded default).
    for key in (
        "check_100_api_calls@sqlite",
        "draft_autosave_p95_ms@sqlite",
        "growth_history_slope_x@sqlite",
        "health_poll_api_calls@sqlite",
        "history_queries_per_page_200@sqlite",
        "load_errors@sqlite",
        "planner_p95_ms@sqlite",
        "poll_api_calls@sqlite",
        "quote_overhead_ratio@sqlite",
    ):
        assert key in figures, sorted(figures)
    assert {f["backend"] for f in figures.values()} == {"sqlite"}
    # The counted figures and their budgets, as judged at any size.
    assert figures["check_100_api_calls@sqlite"]["value"] == 2  # batches of 50
    assert figures["check_100_rate_limited@sqlite"]["value"] == 0
    assert (
        figures["poll_api_calls@sqlite"]["value"] == 2
    )  # 20 orders + 60 mailboxes, pages of 100
    assert figures["poll_rate_limited@sqlite"]["value"] == 0
    # 40 live orders of 3 mailboxes: two pages of the accounts list, not 120 calls.
    assert figures["health_poll_api_calls@sqlite"]["value"] == 2
    assert figures["health_poll_rate_limited@sqlite"]["value"] == 0
    assert (
        figures["history_queries_per_page_200@sqlite"]["value"]
        == figures["history_queries_per_page_25@sqlite"]["value"]
    )
    assert (
        figures["admin_orders_queries_200_rows@sqlite"]["value"]
        == figures["admin_orders_queries_10_rows@sqlite"]["value"]
    )
    # The load test's servers and operators ran, failed nothing and lost nothing.
    assert figures["load_requests@sqlite"]["value"] > 0
    assert figures["load_errors@sqlite"]["value"] == 0
    assert figures["load_lost_edits@sqlite"]["value"] == 0
    # Timings over samples carry both percentiles and the sample count: one request per
    # history variant at smoke size, one per pair of quote calls.
    history = figures["history_p95_ms@sqlite"]
    assert (history["n"], history["p95"]) == (10, history["value"])
    assert history["p50"] <= history["p95"]
    assert figures["quote_overhead_ms@sqlite"]["n"] == 3
    # The growth chart is drawn even from a tiny run.
    assert (tmp_path / "bench-growth.svg").read_text().startswith("<?xml")
    # Timings are reported without a budget: a tiny run on a busy machine proves nothing.
    assert figures["quote_overhead_ratio@sqlite"]["budget"] is None
    assert figures["history_p95_ms@sqlite"]["budget"] is None


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


def _here() -> str:
    """The backend label of this test process's database."""
    from django.db import connection

    return "postgres" if connection.vendor == "postgresql" else "sqlite"


def _backends_in_process(
    monkeypatch: pytest.MonkeyPatch,
    *,
    answering: bool,
    per_backend: dict[str, dict[str, Figure]] | None = None,
) -> list[str]:
    """Run each backend's benchmarks in this process (instead of a child process each), with
    the deployed services answering or not; `per_backend` overrides the fake benchmark's
    figures per backend. Returns the backends run, in order."""
    from bench import __main__ as bench_main

    services = bench_main.Services(
        "postgres://bench@127.0.0.1:5432/bench",
        "redis://127.0.0.1:6379/0",
        "" if answering else "PostgreSQL at 127.0.0.1:5432/bench did not answer",
    )
    monkeypatch.setattr(bench_main, "services_deployed", lambda: services)
    ran: list[str] = []

    def in_process(
        backend: str, modules: list[str], env: dict[str, str]
    ) -> dict[str, Figure]:
        ran.append(backend)
        if per_backend is not None:
            _fake_benchmark(monkeypatch, per_backend[backend])
        return bench_main.collect(modules, backend, judged=False)

    monkeypatch.setattr(bench_main, "backend_run", in_process)
    return ran


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
    _backends_in_process(monkeypatch, answering=False)
    assert bench_main.main(["--smoke"] if smoke else []) == 1
    out = capsys.readouterr().out
    # A smoke run stays on this process's database; a full one ran the embedded default.
    assert f"OVER BUDGET: fake_api_calls@{_here() if smoke else 'sqlite'}" in out


def test_a_slow_timing_fails_a_full_run_but_not_a_smoke_run(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    from bench import __main__ as bench_main
    from bench import harness

    monkeypatch.setattr(harness, "SMOKE", False)
    settings.VAR_DIR = tmp_path
    _fake_benchmark(monkeypatch, {"fake_ms": Figure(500, "ms", budget=100)})
    _backends_in_process(monkeypatch, answering=False)
    assert bench_main.main(["--smoke"]) == 0
    assert json.loads((tmp_path / "bench-smoke.json").read_text())[
        f"fake_ms@{_here()}"
    ] == {"value": 500, "unit": "ms", "budget": None, "backend": _here()}
    monkeypatch.setattr(harness, "SMOKE", False)  # as in a new process
    assert bench_main.main([]) == 1
    # Without the deployed configuration, the embedded figure is held to 1.5x the goal.
    assert json.loads((tmp_path / "bench.json").read_text())["fake_ms@sqlite"][
        "budget"
    ] == pytest.approx(150)


def test_both_backends_run_and_the_embedded_one_is_judged_against_the_deployed_one(
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import __main__ as bench_main

    settings.VAR_DIR = tmp_path
    ran = _backends_in_process(
        monkeypatch,
        answering=True,
        per_backend={
            "postgres": {
                "fake_p95_ms": Figure(40, "ms", budget=75, p50=30, p95=40, n=12),
                "fake_api_calls": Figure(3, "calls", budget=3),
            },
            "sqlite": {
                "fake_p95_ms": Figure(70, "ms", budget=75, p50=50, p95=70, n=12),
                "fake_api_calls": Figure(3, "calls", budget=3),
            },
        },
    )
    assert bench_main.main([]) == 1
    assert ran == ["postgres", "sqlite"]
    out = capsys.readouterr().out
    # Within the goal, but over 1.5x the PostgreSQL figure of the same run.
    assert "OVER BUDGET: fake_p95_ms@sqlite\n" in out
    assert "(p50 30.0, p95 40.0, n=12)" in out
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["fake_p95_ms@postgres"] == {
        "value": 40,
        "unit": "ms",
        "budget": 75,
        "p50": 30,
        "p95": 40,
        "n": 12,
        "backend": "postgres",
    }
    assert figures["fake_p95_ms@sqlite"]["budget"] == 60
    assert figures["fake_api_calls@sqlite"]["budget"] == 3


def test_asking_for_the_deployed_backend_without_its_services_fails(
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import __main__ as bench_main

    settings.VAR_DIR = tmp_path
    _fake_benchmark(monkeypatch, {"fake_ms": Figure(5, "ms", budget=100)})
    ran = _backends_in_process(monkeypatch, answering=False)
    assert bench_main.main(["--backend=postgres"]) == 2
    assert ran == []
    assert "did not answer" in capsys.readouterr().out


def test_services_that_do_not_answer_are_named_without_their_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import __main__ as bench_main

    # Port 1: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("DATABASE_URL", "postgres://someone:s3cret@127.0.0.1:1/portal")
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret@127.0.0.1:1/3")
    services = bench_main.services_deployed()
    assert services.problem == (
        "PostgreSQL at 127.0.0.1:1/portal did not answer; "
        "Redis at 127.0.0.1:1/3 did not answer"
    )
    monkeypatch.setenv("DATABASE_URL", "sqlite:///var/portal.sqlite3")
    assert bench_main.services_deployed().problem.startswith(
        "DATABASE_URL is not a PostgreSQL URL"
    )


def test_the_growth_chart_is_redrawn_from_bench_json_and_copied_to_the_docs(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    from bench import growth

    settings.VAR_DIR = tmp_path
    docs_copy = tmp_path / "docs" / "performance-growth.svg"
    docs_copy.parent.mkdir()
    monkeypatch.setattr(growth, "DOCS_CHART", docs_copy)
    figures = {
        f"growth_{page}_{orders}_p95_ms@postgres": {
            "value": ms * 1.5,
            "unit": "ms",
            "p50": ms,
            "p95": ms * 1.5,
            "n": 40,
        }
        for page in growth.PAGES
        for orders, ms in ((100_000, 40.0), (10_000, 30.0), (30_000, 33.0))
    }
    # Another backend's growth figures (a smoke run's) are not the deployed curve.
    figures["growth_history_10000_p95_ms@sqlite"] = figures[
        "growth_history_10000_p95_ms@postgres"
    ] | {"p50": 999.0}
    (tmp_path / "bench.json").write_text(json.dumps(figures))

    series = growth.series_read(tmp_path / "bench.json")
    assert series["history"] == [
        growth.Point(10_000, 30.0, 45.0),
        growth.Point(30_000, 33.0, 49.5),
        growth.Point(100_000, 40.0, 60.0),
    ]
    assert growth.main([]) == 0
    assert not docs_copy.exists()
    first = (tmp_path / "bench-growth.svg").read_bytes()
    assert growth.main(["--update-docs"]) == 0
    # Redrawing the same figures gives the same file, so the committed copy only changes
    # when the figures do.
    assert docs_copy.read_bytes() == first


def test_each_benchmark_runs_in_a_process_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A benchmark that patches its process must not reach the next one's figures: one child
    per benchmark, in name order whatever order they were typed in."""
    from bench import __main__ as bench_main

    children: list[tuple[str, str]] = []

    def child(backend: str, name: str, env: dict[str, str]) -> dict[str, Figure]:
        children.append((backend, name))
        return {f"{name}_ms": Figure(1, "ms")}

    monkeypatch.setattr(bench_main, "_child_run", child)
    every = bench_main.benchmark_names()
    assert {"quote", "draft", "history", "load"} <= set(every)
    assert not {"harness", "servers", "locustfile", "median_of_runs"} & set(every)

    figures = bench_main.backend_run("postgres", [], {})
    assert children == [("postgres", name) for name in every]
    assert list(figures) == [f"{name}_ms" for name in every]

    children.clear()
    bench_main.backend_run("sqlite", ["quote", "draft"], {})
    assert children == [("sqlite", "draft"), ("sqlite", "quote")]

    with pytest.raises(SystemExit, match="no benchmark named nonsense"):
        bench_main.backend_run("sqlite", ["quote", "nonsense"], {})


def test_the_in_process_remote_is_undone_after_its_benchmark() -> None:
    from bench.draft import in_process_remote
    from orders import instantly_keys

    real = instantly_keys.instantly_client_for
    with in_process_remote():
        assert instantly_keys.instantly_client_for is not real
    assert instantly_keys.instantly_client_for is real
