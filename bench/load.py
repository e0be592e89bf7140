"""Load on the deployed shape: 50 operators for 60 s against gunicorn on PostgreSQL and Redis,
each editing its own draft (autosave with a fresh quote) and browsing the order history.

Everything runs on loopback, as processes of their own: the portal under gunicorn with
docker-compose's `web` command (its workers and threads, read from docker-compose.yml; only the
address differs), the sandbox standing in for Instantly in a gunicorn of its own (the remote is
another service, and the portal's workers must not wait on themselves), and locust driving
the operators of bench/locustfile.py, headless and bounded by its run time and a hard timeout.
Both servers run as deployed: DJANGO_DEBUG off, behind a proxy that ended TLS (the operators
send X-Forwarded-Proto), static files collected, database connections kept (.env.example).
The sandbox answers after a fixed latency, which the autosave figure leaves out.

Figures: the autosave's p95 (save, quote, fragments) without the sandbox's latency; failed
requests (budget 0); lost edits, drafts whose stored name is not what its operator last saw
saved (budget 0); for every rate-limiter rule shorter than an hour, the most Instantly calls
of its kind that the sandbox logged in any second or minute, against the rule's limit; 429s
from the sandbox (budget 0).

    make bench ARGS=load

`--smoke` runs 3 operators for 5 s on whatever backend the environment configures (about
20 s, mostly starting servers and locust), so tests/test_bench_smoke.py proves it still works.
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import harness, servers
from bench.harness import Figure, scratch_database, size, timing

DEPLOYED_ONLY = True

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
OPERATORS = size(50, 3)
SECONDS = size(60, 5)
SPAWN_PER_SECOND = size(25, 3)
LATENCY_MS = 100
# Each operator's draft, in domains of mailboxes; the workspace's history is issue 14's size.
DOMAINS, MAILBOXES_PER_DOMAIN = 5, 3
HISTORY_ORDERS = size(10_000, 20)
HISTORY_MAILBOXES = size(200_000, 100)
EDITED_FIELD = "item-0-mb-0-first"  # the first mailbox's first name
HISTORY_QUERIES = ["", "?status=draft", "?q=load", "?sort=-due_now&per_page=100"]
# Past locust's own run time: spawning, letting running tasks finish, writing its results.
LOCUST_GRACE_SECONDS = 60


def run() -> dict[str, Figure]:
    from django.conf import settings
    from django.db import connection

    deployed = connection.vendor == "postgresql" and bool(settings.REDIS_URL)
    if not deployed and not harness.SMOKE:
        sys.stdout.write(
            "load: skipped, it needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)\n"
        )
        return {}
    with scratch_database("load"):
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.utils import timezone

    work = Path(settings.VAR_DIR) / "load"
    work.mkdir(parents=True, exist_ok=True)
    env = servers.server_env()
    servers.collect_static(env)
    with (
        servers.server(servers.sandbox_command(), env, work / "sandbox.log") as sandbox,
        servers.server(servers.portal_command(), env, work / "portal.log") as portal,
    ):
        plan = _setup(portal=portal, sandbox=sandbox, results=work / "results.json")
        (work / "plan.json").write_text(json.dumps(plan))
        started = timezone.now()
        _locust(portal, work)
    results = json.loads((work / "results.json").read_text())
    return _figures(results, plan, started)


def _setup(*, portal: str, sandbox: str, results: Path) -> dict[str, Any]:
    """The workspace with its history, the operators, their drafts and sessions, the key to
    the sandbox: what bench/locustfile.py reads."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from bench.history import bench_workspace, orders_add, statistics_refresh
    from sandbox.services import sandbox_workspace_create
    from sandbox.switches import switches_set

    _sandbox_workspace, key = sandbox_workspace_create(name="load")
    switches_set(latency_ms=LATENCY_MS)
    workspace, requesters, approvers = bench_workspace()
    orders_add(
        workspace,
        requesters,
        approvers,
        orders=HISTORY_ORDERS,
        mailboxes=HISTORY_MAILBOXES,
        seed=1,
    )
    servers.sandbox_key_save(
        workspace=workspace, secret=key, sandbox=sandbox, label="load"
    )
    operators = []
    for n in range(OPERATORS):
        user, order = _operator_with_draft(workspace, n)
        session = Client()
        session.force_login(user)
        args = [workspace.slug, order.pk]
        operators.append(
            {
                "order": order.pk,
                "session": session.cookies[settings.SESSION_COOKIE_NAME].value,
                "build": reverse("orders:build", args=args),
                "quote": reverse("orders:quote", args=args),
                "history": reverse("orders:list", args=[workspace.slug]),
                "field": EDITED_FIELD,
                "initial": "Jane",
            }
        )
    statistics_refresh()
    return {
        "origin": portal.replace("http://", "https://"),
        "session_cookie": servers.SESSION_COOKIE,
        "operators": operators,
        "history_queries": HISTORY_QUERIES,
        "results": str(results),
    }


def _operator_with_draft(workspace: Any, n: int) -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model

    from orders import drafts
    from orders.models import Membership, Role
    from orders.rules import DraftItem, DraftMailbox

    # No usable password: sessions are made here, and hashing 50 passwords would take a while.
    user = get_user_model().objects.create_user(f"load-operator-{n}")
    Membership.objects.create(user=user, workspace=workspace, role=Role.OPERATOR)
    order = drafts.order_draft_create(
        workspace=workspace, by=user, order_type="dfy", title=f"Load {n}"
    )
    items = [
        DraftItem(
            domain=f"load{n}brand{d}.com",
            provider=1,
            mailboxes=tuple(
                DraftMailbox("Jane", f"Roe{m}", f"jane.roe{m}")
                for m in range(MAILBOXES_PER_DOMAIN)
            ),
        )
        for d in range(DOMAINS)
    ]
    order = drafts.order_draft_save(
        order=order, by=user, version=order.version, items=items
    )
    return user, order


def _locust(portal: str, work: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(OPERATORS),
        "--spawn-rate",
        str(SPAWN_PER_SECOND),
        "--run-time",
        f"{SECONDS}s",
        # Running tasks finish, so a stop never cuts an autosave off.
        "--stop-timeout",
        "20",
        "--host",
        portal,
        "--csv",
        str(work / "locust"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "DFY_LOAD_PLAN": str(work / "plan.json")}
    (work / "results.json").unlink(missing_ok=True)
    with (work / "locust.log").open("w") as out:
        # Exit status 1 only says that some request failed: the figures count them.
        subprocess.run(  # noqa: S603 (our interpreter and locust)
            command,
            cwd=servers.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=SECONDS + LOCUST_GRACE_SECONDS,
            check=False,
        )
    if not (work / "results.json").exists():
        raise RuntimeError(
            f"locust wrote no results: {servers.tail(work / 'locust.log')}"
        )


def _figures(
    results: dict[str, Any], plan: dict[str, Any], started: datetime
) -> dict[str, Figure]:
    failures = results["failures"]
    failed = sum(f["count"] for f in failures)
    worst = sorted(failures, key=lambda f: -f["count"])[:3]
    why = "; ".join(f"{f['count']}x {f['name']}: {f['error'][:80]}" for f in worst)
    load = f"{OPERATORS} operators, {SECONDS} s"
    if not results["autosave_ms"]:
        raise RuntimeError(f"no autosave went through: {why}")
    return {
        "load_autosave_p95_ms": timing(
            [ms - LATENCY_MS for ms in results["autosave_ms"]],
            note=f"{load}; save + quote + fragments, less the sandbox's {LATENCY_MS} ms",
        ),
        "load_requests": Figure(float(results["requests"]), "requests", note=load),
        "load_errors": Figure(float(failed), "requests", budget=0, note=why),
        "load_lost_edits": Figure(
            float(_lost_edits(results["outcomes"])),
            "drafts",
            budget=0,
            note=f"of {len(plan['operators'])}",
        ),
        **_instantly_figures(started),
    }


def _lost_edits(outcomes: dict[str, dict[str, Any]]) -> int:
    """Drafts whose stored name is neither the last acknowledged edit nor one sent after it
    whose answer never came."""
    from orders.models import Mailbox

    stored = dict(
        Mailbox.objects.filter(
            item__order_id__in=[int(pk) for pk in outcomes],
            item__position=0,
            position=0,
        ).values_list("item__order_id", "first_name")
    )
    return sum(
        stored.get(int(pk)) not in {seen["acked"], *seen["unacked"]}
        for pk, seen in outcomes.items()
    )


def _instantly_figures(started: datetime) -> dict[str, Figure]:
    """For each limiter rule shorter than an hour: the most calls of its scope that the sandbox
    logged in any second or minute (as Instantly counts), against the rule's limit."""
    from orders.ratelimit import DEFAULT_RULES, SCOPE_ALL, scopes_for
    from sandbox.models import RequestLog

    calls = [
        (_kind(method, path), at.timestamp(), status)
        for method, path, at, status in RequestLog.objects.filter(
            created_at__gte=started
        ).values_list("method", "path", "created_at", "status_code")
    ]
    figures = {}
    for rule in DEFAULT_RULES:
        if rule.window >= 3600:
            continue  # an hour's budget is not reached in a minute's run
        # Instantly's own windows: a rule's may be a little longer, to allow for transit.
        per, span = ("second", 1.0) if rule.window < 60 else ("minute", 60.0)
        times = [at for kind, at, _ in calls if rule.scope in scopes_for(kind)]
        scope = "" if rule.scope == SCOPE_ALL else f"{rule.scope}_"
        figures[f"load_instantly_{scope}calls_per_{per}"] = Figure(
            float(_busiest(times, span)),
            "calls",
            budget=rule.limit,
            note=f"busiest {per} at the sandbox; {rule.label}",
        )
    figures["load_instantly_429s"] = Figure(
        float(sum(status == 429 for *_, status in calls)), "429s", budget=0
    )
    return figures


def _kind(method: str, path: str) -> str:
    """The limiter kind the portal's client gives a call (orders/instantly/client.py)."""
    from orders.instantly.client import CHECK_PATH
    from orders.ratelimit import KIND_CHECK, KIND_DEFAULT, KIND_FORWARDING

    if path.endswith(CHECK_PATH):
        return KIND_CHECK
    if path.endswith("/forwarding") and method != "GET":
        return KIND_FORWARDING
    return KIND_DEFAULT


def _busiest(times: list[float], window: float) -> int:
    """The most calls in any window of `window` seconds, counted as the limiter counts: a
    call at t is in the windows (t', t' + window] that contain t."""
    ordered = sorted(times)
    return max(
        (
            i + 1 - bisect.bisect_right(ordered, at - window, hi=i)
            for i, at in enumerate(ordered)
        ),
        default=0,
    )
