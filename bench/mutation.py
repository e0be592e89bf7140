"""`make mutate`: mutation testing of the money path with mutmut, one module at a time.

Each module runs in its own scratch copy of the project under var/mutation/<slug>/ (mutmut
writes a `mutants/` tree next to its config, so the working tree stays untouched), against the
fast tests that guard it, on SQLite. The results go to var/mutation.json as
{"modules": {path: {"killed", "survived", "timeout", "score", "seconds", "survivors"}},
 "total": {...}} and the survivors are printed with their diffs. docs/testing.md explains the
choice of tool and every survivor that is left.

    python -m bench.mutation                    # every module
    python -m bench.mutation orders/rules.py    # some of them (their figures are merged)
    python -m bench.mutation --survivors        # only the last survivors, against new tests
    python -m bench.mutation --report           # re-read the last results, run nothing

Not a benchmark (no `run()`): `make bench` only reads the latest file, via `latest_figures`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90


@dataclass(frozen=True)
class Module:
    path: str  # a file, or a folder glob ending in "/*"
    tests: tuple[str, ...]
    # Tests that read the source text itself (mutmut's copy holds every mutant side by side).
    deselect: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return self.path.removesuffix("/*").removesuffix(".py").replace("/", "-")

    @property
    def package(self) -> str:
        return self.path.split("/", 1)[0]


WORKFLOW_TESTS = (
    "tests/orders/test_workflow.py",
    "tests/orders/test_workflow_placement.py",
    "tests/orders/test_workflow_views.py",
    "tests/orders/test_money_path_guards.py",
    "tests/orders/test_reconcile_bounds.py",
    "tests/orders/test_four_eyes.py",
    "tests/orders/test_checkout_required.py",
)

# Tests about one workflow module only.
OWN_TESTS: dict[str, tuple[str, ...]] = {
    "bounds": ("tests/orders/test_bounds_exact.py",),
    "approval": ("tests/orders/test_approval_exact.py",),
    "reconciliation": ("tests/orders/test_reconciliation_exact.py",),
    "placement": ("tests/orders/test_placement_exact.py",),
}

# Smallest first, so that some figures exist early in a long run.
MODULES: tuple[Module, ...] = (
    Module(
        "sandbox/pricing.py",
        ("tests/sandbox/test_pricing.py", "tests/sandbox/test_orders.py"),
    ),
    Module(
        "sandbox/rules.py",
        ("tests/sandbox/test_orders.py", "tests/orders/test_rules_parity.py"),
    ),
    Module(
        "orders/quotes.py",
        ("tests/orders/test_builder_quote.py", "tests/orders/test_bill.py"),
    ),
    Module(
        "orders/rules.py",
        (
            "tests/orders/test_rules.py",
            "tests/orders/test_rules_exact.py",
            "tests/orders/test_rules_parity.py",
        ),
    ),
    Module(
        "orders/lifecycle.py",
        (
            "tests/orders/test_lifecycle.py",
            "tests/orders/test_workflow.py",
            "tests/orders/test_money_path_guards.py",
            "tests/orders/test_fulfilment.py",
            "tests/orders/test_cancellation.py",
        ),
    ),
    Module(
        "orders/cancellation.py",
        (
            "tests/orders/test_cancellation.py",
            "tests/orders/test_cancellation_exact.py",
            "tests/orders/test_money_path_guards.py",
        ),
    ),
    *(
        Module(
            f"orders/workflow/{name}.py",
            WORKFLOW_TESTS + OWN_TESTS.get(name, ()),
            deselect=(
                "tests/orders/test_workflow_placement.py"
                "::test_the_real_order_is_placed_from_one_site_only",
            ),
        )
        for name in ("common", "bounds", "approval", "reconciliation", "placement")
    ),
)

# Everything the tests import or read besides the package being mutated.
COPY = (
    "dfyportal",
    "orders",
    "sandbox",
    "templates",
    "static",
    "tests",
    "manage.py",
    "mutation_isolation.py",  # written by _prepare
)
# mutmut's exit codes; "no tests" (5, 33) means no selected test ran the mutated code, which
# is a survivor as far as the money path is concerned.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "survived", 33: "survived"}
STATUS.update(
    {36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
)


def _extra_tests(module: Module) -> tuple[str, ...]:
    """Tests written to kill survivors live in tests/*/test_mutation_kills.py."""
    extra = f"tests/{module.package}/test_mutation_kills.py"
    return (extra,) if (ROOT / extra).exists() else ()


ATOMIC = re.compile(r"^@transaction\.atomic\n(def (\w+)\()", re.MULTILINE)
PROPERTY = re.compile(r"^    @property\n(    def (\w+)\()", re.MULTILINE)
CLASS = re.compile(r"^class (\w+)", re.MULTILINE)


def _undecorated(source: str) -> str:
    """mutmut leaves decorated functions alone, and the money path's writers are
    `@transaction.atomic` and its totals `@property`. In the scratch copy only, apply those
    decorators at the end of the module instead (the same objects at call time), so that
    their bodies are mutated too."""
    tail = [f"{m[2]} = transaction.atomic({m[2]})" for m in ATOMIC.finditer(source)]
    for m in PROPERTY.finditer(source):
        owner = [c[1] for c in CLASS.finditer(source, 0, m.start())][-1]
        tail.append(f"{owner}.{m[2]} = property({owner}.{m[2]})")
    if not tail:
        return source
    source = PROPERTY.sub(r"\1", ATOMIC.sub(r"\1", source))
    return source + "\n\n" + "\n".join(tail) + "\n"


def _copy_tree(work: Path, skip: set[Path], package: str) -> None:
    """The project files the tests need, as they are now, except the files in `skip`. mutmut
    copies the package it mutates into mutants/ only once, so that copy is refreshed too."""
    for name in COPY[:-1]:
        src = ROOT / name
        if src.is_dir():
            for path in sorted(src.rglob("*")):
                target = work / path.relative_to(ROOT)
                if path in skip or "__pycache__" in path.parts or path.is_dir():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                if name == package and (work / "mutants" / name).is_dir():
                    inner = work / "mutants" / path.relative_to(ROOT)
                    inner.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, inner)
        else:
            shutil.copy2(src, work / name)


# A pytest plugin for the scratch copy. Without DATABASE_URL the test database and the cache
# are files under DFY_VAR_DIR; mutmut's parallel children (forked processes) would share them
# and fail each other's tests, which counts as a kill. Each child gets its own cache and an
# in-memory test database (private to the process, and far faster to migrate than a file:
# these unit tests start no worker that would need to share it).
ISOLATION = """\
import os
import shutil
from pathlib import Path


def pytest_configure(config):
    from django.conf import settings
    from django.core.cache import caches

    # Tables straight from the models: migrating a fresh database took ~1.4 s of every
    # mutant's few seconds. The guarding tests pass either way; CI runs them migrated.
    config.option.nomigrations = True
    own = Path(settings.VAR_DIR) / f"child-{os.getpid()}"
    own.mkdir(parents=True, exist_ok=True)
    config._mutation_own_dir = own
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = None
    settings.CACHES["default"]["LOCATION"] = str(own / "cache")
    try:
        delattr(caches._connections, "default")
    except AttributeError:
        pass


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_mutation_own_dir", "/nonexistent"), ignore_errors=True)
"""


def _config(module: Module) -> str:
    others = [n for n in COPY if n not in {module.package, "tests"}]
    tests = module.tests + _extra_tests(module)
    lines = [
        "[mutmut]",
        f"source_paths = {module.package}",
        f"only_mutate = {module.path}",
        "also_copy =\n" + "\n".join(f"    {n}" for n in others),
        "pytest_add_cli_args_test_selection =\n" + "\n".join(f"    {t}" for t in tests),
        "use_git_change_detection = false",
    ]
    extra = ["-p", "mutation_isolation"] + [f"--deselect={t}" for t in module.deselect]
    lines.append("pytest_add_cli_args =\n" + "\n".join(f"    {a}" for a in extra))
    lines.append("")
    return "\n".join(lines)


def _prepare(module: Module, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPY[:-1]:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=ignore)
        else:
            shutil.copy2(src, work / name)
    shutil.copy2(ROOT / "pyproject.toml", work / "pyproject.toml")
    for path in work.glob(module.path):
        if path.suffix == ".py":
            path.write_text(_undecorated(path.read_text()))
    (work / "mutation_isolation.py").write_text(ISOLATION)
    (work / "setup.cfg").write_text(_config(module))


def _mutmut(work: Path, *args: str, log: Path | None = None) -> str:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)  # SQLite: never someone else's PostgreSQL database
    env.pop("REDIS_URL", None)
    env["DFY_VAR_DIR"] = str(work / "var")
    env["DJANGO_DEBUG"] = "true"
    command = ["nice", "-n", "10", sys.executable, "-m", "mutmut", *args]
    done = subprocess.run(  # noqa: S603 - fixed command, our own interpreter
        command,
        cwd=work,
        env=env,
        check=False,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if log is not None:
        # mutmut redraws a progress line many times a second: keep it in the log only.
        log.write_text(done.stdout)
        frames = [f.strip() for f in done.stdout.replace("\r", "\n").split("\n")]
        frames = [f for f in frames if f]
        return "  ".join(frames[-2:])
    return done.stdout


def _results(work: Path) -> dict[str, dict[str, int | None]]:
    """Exit code per mutant, per mutated source file (mutmut's `.meta` files)."""
    mutants = work / "mutants"
    codes: dict[str, dict[str, int | None]] = {}
    for meta in sorted(mutants.rglob("*.meta")):
        by_key = json.loads(meta.read_text())["exit_code_by_key"]
        if by_key:
            codes[str(meta.relative_to(mutants)).removesuffix(".meta")] = by_key
    return codes


def _merge_results(work: Path, before: dict[str, dict[str, int | None]]) -> None:
    """mutmut keeps only the mutants of its last run in a `.meta` file: put the earlier run's
    results back under the new ones, so a module's figures stay whole."""
    for path, codes in before.items():
        meta = work / "mutants" / f"{path}.meta"
        data = json.loads(meta.read_text())
        merged = dict(codes)
        merged.update(
            {k: v for k, v in data["exit_code_by_key"].items() if v is not None}
        )
        data["exit_code_by_key"] = merged
        meta.write_text(json.dumps(data))


def _summary(codes: dict[str, int | None]) -> dict[str, Any]:
    counts = {"killed": 0, "survived": 0, "timeout": 0, "other": 0}
    survivors = []
    for name, code in sorted(codes.items()):
        status = STATUS.get(code, "other") if code is not None else "other"
        counts[status] += 1
        if status == "survived":
            survivors.append(name)
    return {**counts, "score": _score(counts), "survivors": survivors}


def _score(counts: dict[str, int]) -> float:
    # A timeout counts as detected: the mutant did not pass the tests.
    detected = counts["killed"] + counts["timeout"]
    checked = detected + counts["survived"]
    return round(detected / checked, 4) if checked else 0.0


def _work(module: Module) -> Path:
    return ROOT / "var" / "mutation" / module.slug


def _summaries(module: Module) -> dict[str, dict[str, Any]]:
    """One entry per mutated file; `seconds` is the run of the whole `module`."""
    work = _work(module)
    timing = work / "seconds.txt"
    seconds = float(timing.read_text()) if timing.exists() else 0.0
    result = {}
    for path, codes in _results(work).items():
        summary = _summary(codes)
        summary.update(run=module.path, seconds=seconds)
        if not summary["killed"] + summary["survived"] + summary["timeout"]:
            summary["error"] = "mutmut checked nothing: see mutmut.log"
        result[path] = summary
    return result


def run_module(module: Module, children: int) -> dict[str, dict[str, Any]]:
    work = _work(module)
    _prepare(module, work)
    start = time.monotonic()
    log = work / "mutmut.log"
    last = _mutmut(work, "run", "--max-children", str(children), log=log)
    sys.stdout.write(f"{last.strip()}  (full output: {log.relative_to(ROOT)})\n")
    (work / "seconds.txt").write_text(f"{time.monotonic() - start:.1f}")
    summaries = _summaries(module)
    for summary in summaries.values():
        for name in summary["survivors"]:
            sys.stdout.write(_mutmut(work, "show", name))
    return summaries


def _selection(config: str) -> tuple[str, set[str]]:
    """The config without its test selection, and the selected tests."""
    head, _, tail = config.partition("pytest_add_cli_args_test_selection =\n")
    tests: set[str] = set()
    rest: list[str] = []
    for line in tail.splitlines():
        if line.startswith("    ") and not rest:
            tests.add(line.strip())
        else:
            rest.append(line)
    return head + "\n".join(rest), tests


def _extends(previous: str, module: Module) -> bool:
    """The module's config now is the one the last run used, with tests only added: adding
    tests cannot revive a killed mutant, so only the survivors need checking again (mutmut
    collects the new tests' coverage itself)."""
    before, old_tests = _selection(previous)
    now, new_tests = _selection(_config(module))
    return before == now and old_tests <= new_tests


def rerun_survivors(module: Module, children: int) -> dict[str, dict[str, Any]]:
    """Check the last run's survivors again against the current tests (after writing tests
    that should kill them). Anything but added tests needs the whole module run again."""
    work = _work(module)
    config = work / "setup.cfg"
    done = _summaries(module)
    unfinished = not done or any(s["other"] for s in done.values())
    if unfinished or not config.exists() or not _extends(config.read_text(), module):
        return run_module(module, children)
    mutated = [p for p in ROOT.glob(module.path) if p.suffix == ".py"]
    if any(
        (work / p.relative_to(ROOT)).read_text() != _undecorated(p.read_text())
        for p in mutated
    ):
        return run_module(module, children)
    # Everything else is refreshed (tests and the code they import change together), and the
    # test selection takes the added tests.
    _copy_tree(work, set(mutated), module.package)
    (work / "mutation_isolation.py").write_text(ISOLATION)
    config.write_text(_config(module))
    names = [n for s in done.values() for n in s["survivors"]]
    if names:
        before = _results(work)
        log = work / "mutmut-survivors.log"
        last = _mutmut(work, "run", "--max-children", str(children), *names, log=log)
        sys.stdout.write(f"{last.strip()}  (full output: {log.relative_to(ROOT)})\n")
        _merge_results(work, before)
    summaries = _summaries(module)
    for summary in summaries.values():
        for name in summary["survivors"]:
            sys.stdout.write(_mutmut(work, "show", name))
    return summaries


def _total(modules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    counts = {
        key: sum(int(m[key]) for m in modules.values())
        for key in ("killed", "survived", "timeout", "other")
    }
    runs = {str(m.get("run", path)): float(m["seconds"]) for path, m in modules.items()}
    return {**counts, "score": _score(counts), "seconds": round(sum(runs.values()), 1)}


def _write(out: Path, modules: dict[str, dict[str, Any]]) -> None:
    result = {
        "modules": modules,
        "total": _total(modules),
        "tool": "mutmut",
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True))


def main(argv: list[str]) -> int:
    out = ROOT / "var" / "mutation.json"
    # --report: only re-read the results the last runs left under var/mutation/.
    # --survivors: only check the last run's survivors again, against the current tests.
    report_only = "--report" in argv
    survivors_only = "--survivors" in argv
    selected = [a for a in argv if a not in {"--report", "--survivors"}]
    known = {m.path for m in MODULES}
    unknown = [s for s in selected if s not in known]
    if unknown:
        sys.stderr.write(f"unknown module(s) {unknown}; choose from {sorted(known)}\n")
        return 2
    children = int(os.environ.get("MUTATE_CHILDREN", "2"))
    fresh = not selected and not report_only and not survivors_only
    for module in MODULES:
        if selected and module.path not in selected:
            continue
        if report_only and not _work(module).exists():
            continue  # results copied in from another checkout: keep them as they are
        if report_only:
            summaries = _summaries(module)
        elif survivors_only:
            sys.stdout.write(f"== {module.path} (survivors)\n")
            sys.stdout.flush()
            summaries = rerun_survivors(module, children)
        else:
            sys.stdout.write(f"== {module.path}\n")
            sys.stdout.flush()
            summaries = run_module(module, children)
        # Read again just before writing: a run of other modules may have finished meanwhile.
        previous: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        modules: dict[str, dict[str, Any]] = (
            {} if fresh else previous.get("modules", {})
        )
        fresh = False
        for path in [p for p, m in modules.items() if m.get("run", p) == module.path]:
            del modules[path]
        modules.update(summaries)
        _write(out, modules)
    if not out.exists():
        sys.stderr.write("no results yet: run `make mutate`\n")
        return 1
    report = json.loads(out.read_text())
    below = []
    for path, m in sorted(report["modules"].items()):
        verdict = "ok" if m["score"] >= TARGET else "BELOW"
        if m["score"] < TARGET:
            below.append(path)
        sys.stdout.write(
            f"{path:<34} score {m['score']:.3f} ({m['killed']} killed, {m['survived']} "
            f"survived, {m['timeout']} timeout)  {verdict}\n"
        )
        for name in m["survivors"]:
            sys.stdout.write(f"    survivor {name}\n")
    total = report["total"]
    sys.stdout.write(
        f"total score {total['score']:.3f} in {total['seconds']:.0f}s; written to {out}\n"
    )
    return 0


def latest_figures() -> dict[str, Any]:
    """The per-module scores of the last `make mutate`, for `make bench` (empty if none)."""
    from bench.harness import Figure

    out = ROOT / "var" / "mutation.json"
    if not out.exists():
        return {}
    report = json.loads(out.read_text())
    note = f"make mutate, {report.get('written', '?')}"
    figures: dict[str, Figure] = {}
    for path, m in sorted(report.get("modules", {}).items()):
        key = "mutation " + path.removesuffix(".py")
        partial = f"; PARTIAL, {m['other']} not checked" if m.get("other") else ""
        figures[key] = Figure(
            m["score"], "score", TARGET, kind="min", note=note + partial
        )
    total = report.get("total", {})
    if "score" in total:
        figures["mutation total"] = Figure(total["score"], "score", TARGET, "min", note)
    return figures


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
