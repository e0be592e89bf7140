"""`make bench`: run every benchmark module, print each figure with its budget, and write them
all to var/bench.json as {"name@backend": {"value", "unit", "budget", ...}}.

Backends. Issue 14's budgets hold for the deployed configuration, PostgreSQL + Redis, and the
embedded default (SQLite + files under DFY_VAR_DIR) must stay within 1.5x of it. So a run first
asks whether PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/bench) and Redis
(REDIS_URL, else redis://127.0.0.1:6379/0) answer. If both do, the benchmarks run on them and
then on the embedded default; if not, on the embedded default alone, and the run says so.
Settings are read once, at django.setup(), so each benchmark runs on each backend in a child
process of its own (`--child=postgres|sqlite --out=FILE NAME`; a fresh process per benchmark,
so that nothing one benchmark patches reaches the next) and this one merges their figures.
Every key names its backend (`history_p95_ms@postgres`, `history_p95_ms@sqlite`): both live
side by side in one flat file, and a key alone says what it was measured on. `--backend=postgres` or `--backend=sqlite`
runs only that one.

Budgets. A module's budgets are the goals for the deployed configuration. An embedded timing
with a budget is judged against 1.5x the same figure measured on PostgreSQL + Redis in the same
run (1.5x the goal when the deployed configuration was not measured); counted figures (calls,
429s, queries) keep their budgets everywhere. Timings measured over samples carry p50, p95 and
the sample count n. The exit status is 1 when any figure is over its budget, so CI and scripts
notice.

Each module in bench/ that defines `run() -> dict[str, Figure]` is a benchmark; they run in name
order, each in its own scratch database set up by bench.harness. A module with
`DEPLOYED_ONLY = True` (bench/growth.py) runs on PostgreSQL + Redis only.

`--smoke` runs every benchmark at a tiny size in seconds (bench.harness.size), in this process on
whatever the environment configures, and writes var/bench-smoke.json instead: only counted
figures are judged, since timings of a tiny run say nothing. tests/test_bench_smoke.py runs it
in `make test`.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import bench
from bench import harness
from bench.harness import Figure, django_setup

DEPLOYED, EMBEDDED = "postgres", "sqlite"
BACKEND_NAMES = {DEPLOYED: "PostgreSQL + Redis", EMBEDDED: "SQLite + files"}
# Issue 14: "the embedded default must stay within 1.5x of" the deployed configuration.
EMBEDDED_FACTOR = 1.5
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PROBE_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Options:
    modules: list[str]
    smoke: bool = False
    backends: tuple[str, ...] = ()  # chosen with --backend; empty: whichever answer
    child: str = ""  # the backend a child process runs on
    out: Path | None = None  # where a child writes its figures


@dataclass(frozen=True)
class Services:
    """Where the deployed configuration's services are, or why they cannot be used."""

    database_url: str
    redis_url: str
    problem: str = ""


def main(argv: list[str]) -> int:
    options = _options(argv)
    if options.smoke or options.child:
        return _run_here(options)
    return _run_backends(options)


def _options(argv: list[str]) -> Options:
    modules, backends, child, out = [], [], "", None
    for arg in argv:
        flag, _, value = arg.partition("=")
        if flag == "--backend" and value in BACKEND_NAMES:
            backends.append(value)
        elif flag == "--child" and value in BACKEND_NAMES:
            child = value
        elif flag == "--out" and value:
            out = Path(value)
        elif arg != "--smoke":
            if arg.startswith("-"):
                raise SystemExit(f"unknown option {arg}: see bench/__main__.py")
            modules.append(arg)
    return Options(
        modules=modules,
        smoke="--smoke" in argv,
        backends=tuple(backends),
        child=child,
        out=out,
    )


def _run_here(options: Options) -> int:
    """Run the benchmarks in this process, on the backend the environment configures."""
    # Before any benchmark module is imported: their sizes are read at import time.
    harness.SMOKE = options.smoke
    django_setup()
    from django.conf import settings
    from django.db import connection

    backend = options.child or (
        DEPLOYED if connection.vendor == "postgresql" else EMBEDDED
    )
    # A child's figures are judged by its parent, against the other backend's.
    figures = collect(options.modules, backend, judged=not options.child)
    if options.out is not None:
        _write(options.out, figures, merge=False)
        return 0
    out = Path(settings.VAR_DIR) / "bench-smoke.json"
    _write(out, figures, merge=bool(options.modules))
    _say(f"written to {out}")
    return _verdict(figures)


def collect(modules: list[str], backend: str, *, judged: bool) -> dict[str, Figure]:
    """Every selected benchmark's figures, printed as they come, keyed `name@backend`."""
    figures: dict[str, Figure] = {}
    for name in benchmark_names():
        if modules and name not in modules:
            continue
        module = importlib.import_module(f"bench.{name}")
        # A smoke run still proves that such a module works, on whatever backend it has.
        deployed_only = getattr(module, "DEPLOYED_ONLY", False)
        if deployed_only and backend != DEPLOYED and not harness.SMOKE:
            continue
        _say(f"== {name} on {BACKEND_NAMES[backend]}")
        for key, figure in module.run().items():
            if harness.SMOKE and figure.unit not in harness.COUNTED_UNITS:
                figure = replace(figure, budget=None)
            labelled = f"{key}@{backend}"
            figures[labelled] = replace(figure, backend=backend)
            _say(figures[labelled].line(labelled, judged=judged))
    return figures


def _run_backends(options: Options) -> int:
    django_setup()  # for DFY_VAR_DIR as the settings resolve it
    from django.conf import settings

    var_dir = Path(settings.VAR_DIR)
    services = services_deployed()
    backends = options.backends or (
        (DEPLOYED, EMBEDDED) if not services.problem else (EMBEDDED,)
    )
    if DEPLOYED in backends and services.problem:
        _say(f"cannot bench on {BACKEND_NAMES[DEPLOYED]}: {services.problem}")
        return 2
    if DEPLOYED not in backends:
        why = services.problem or "not chosen"
        _say(
            f"{BACKEND_NAMES[DEPLOYED]} not measured ({why}): embedded figures are judged "
            f"against {EMBEDDED_FACTOR:g}x the goals instead of the deployed figures"
        )
    figures: dict[str, Figure] = {}
    for backend in backends:
        _say(f"=== {backend}: {_where(backend, services)}")
        figures |= backend_run(
            backend, options.modules, _env(backend, services, var_dir)
        )
    figures = embedded_budgets(figures)
    _say("=== verdict")
    for key, figure in figures.items():
        if figure.budget is not None:
            _say(figure.line(key))
    if not options.modules and not options.backends:
        # The last `make mutate` (too slow to run here): its scores, next to the timings.
        from bench.mutation import latest_figures

        mutation = latest_figures()
        if mutation:
            _say("== mutation (latest var/mutation.json)")
        for key, figure in mutation.items():
            figures[key] = figure
            _say(figure.line(key))
    out = var_dir / "bench.json"
    _write(out, figures, merge=bool(options.modules or options.backends))
    _say(f"written to {out}")
    return _verdict(figures)


def services_deployed() -> Services:
    """The deployed configuration's PostgreSQL and Redis, and whether both answer."""
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    problems = []
    if urlsplit(database_url).scheme not in {"postgres", "postgresql"}:
        problems.append("DATABASE_URL is not a PostgreSQL URL")
    elif not _postgres_answers(database_url):
        problems.append(f"PostgreSQL at {_address(database_url)} did not answer")
    if not _redis_answers(redis_url):
        problems.append(f"Redis at {_address(redis_url)} did not answer")
    return Services(database_url, redis_url, "; ".join(problems))


def _postgres_answers(url: str) -> bool:
    import psycopg

    try:
        # The server's own database: the configured one may not exist yet, and the benchmarks
        # only create scratch databases beside it.
        with psycopg.connect(
            url, dbname="postgres", connect_timeout=PROBE_TIMEOUT_SECONDS
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _address(url: str) -> str:
    """host:port/path of a service URL, without its credentials, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or ''}{parts.path}"


def _where(backend: str, services: Services) -> str:
    if backend == DEPLOYED:
        return (
            f"{BACKEND_NAMES[backend]} (PostgreSQL {_address(services.database_url)}, "
            f"Redis {_address(services.redis_url)})"
        )
    return f"{BACKEND_NAMES[backend]} (DFY_VAR_DIR)"


def _env(backend: str, services: Services, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ, DFY_VAR_DIR=str(var_dir))
    if backend == DEPLOYED:
        env |= {"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url}
        return env
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    return env


def backend_run(
    backend: str, modules: list[str], env: dict[str, str]
) -> dict[str, Figure]:
    """One backend's figures, each benchmark measured by a child process of its own
    configured by `env`. One process per benchmark, not per backend: a benchmark that patches
    the process or fills its heap must not reach the next one's figures. One did: after the
    draft benchmark (which serves Instantly from its own interpreter) the quote benchmark's
    bare calls went to that in-process sandbox instead of the sandbox's gunicorn."""
    known = benchmark_names()
    unknown = sorted(set(modules) - set(known))
    if unknown:
        raise SystemExit(
            f"no benchmark named {', '.join(unknown)}: bench/ has {', '.join(known)}"
        )
    figures: dict[str, Figure] = {}
    for name in known:
        if not modules or name in modules:
            figures |= _child_run(backend, name, env)
    return figures


def benchmark_names() -> list[str]:
    """The modules of bench/ that are benchmarks (define `run`), in name order."""
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name not in {"harness", "locustfile"}
    )
    return [n for n in names if hasattr(importlib.import_module(f"bench.{n}"), "run")]


def _child_run(backend: str, name: str, env: dict[str, str]) -> dict[str, Figure]:
    out = Path(env["DFY_VAR_DIR"]) / f"bench-{backend}-{name}.partial.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench", f"--child={backend}", f"--out={out}"]
    # Our own interpreter and module, with a benchmark name checked against bench/'s modules.
    finished = subprocess.run([*command, name], env=env, check=False)  # noqa: S603
    if not out.exists():
        raise SystemExit(
            f"the {name} benchmark on {backend} failed (exit {finished.returncode})"
        )
    data = json.loads(out.read_text())
    out.unlink()
    return {key: Figure.from_json(value) for key, value in data.items()}


def embedded_budgets(figures: dict[str, Figure]) -> dict[str, Figure]:
    """Embedded timings with a budget are held to 1.5x the deployed figure of this run, or to
    1.5x the goal when there is none; counted figures keep their budgets."""
    judged = dict(figures)
    for key, figure in figures.items():
        name, _, backend = key.rpartition("@")
        if (
            backend != EMBEDDED
            or figure.budget is None
            or figure.kind != "max"
            or figure.unit in harness.COUNTED_UNITS
        ):
            continue
        deployed = figures.get(f"{name}@{DEPLOYED}")
        base, of = (
            (deployed.value, f"the {DEPLOYED} figure")
            if deployed is not None
            else (figure.budget, "the goal")
        )
        note = f"{figure.note}; " if figure.note else ""
        judged[key] = replace(
            figure,
            budget=round(EMBEDDED_FACTOR * base, 3),
            note=f"{note}budget {EMBEDDED_FACTOR:g}x {of}",
        )
    return judged


def _write(out: Path, figures: dict[str, Figure], *, merge: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.exists() and merge else {}
    existing.update({k: f.as_json() for k, f in figures.items()})
    out.write_text(json.dumps(existing, indent=2, sort_keys=True))


def _verdict(figures: dict[str, Figure]) -> int:
    over = [k for k, f in figures.items() if not f.within_budget]
    if over:
        _say(f"OVER BUDGET: {', '.join(over)}")
        return 1
    return 0


def _say(line: str) -> None:
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
