"""Availability check of 1,500 pasted domains at Instantly's limit for domains/check (issue 14):
30 calls of 50 domains, no 429, all inside one window of 30 calls a minute.

It runs as the worker runs it, over real HTTP: `finders.domain_check_run` builds its own client
(the process's connection pool, the settings' deadline, the shared limiter the deployed
configuration uses, Redis when REDIS_URL is set and else the file limiter), and the sandbox
serves it from a threaded server with Instantly's own limits on, counting each call when it
arrives in fixed clock-minute windows. The in-process transport would give the same counts,
but would leave out the client the worker builds and the server's own clock and threads.

The limiter lets a minute's 30 checks go at once (orders/ratelimit.py), so the run takes as long
as its 30 calls; a 31st would wait for the window. At smoke size (100 domains, 2 calls) the limit
is never reached, so the smoke run stays quick.
"""

from __future__ import annotations

import math
import time
from collections import Counter

# One threaded server in this process for the portal and its sandbox: the benchmark stops a
# worker halfway and reads what it left.
from bench import servers
from bench.harness import Figure, scratch_database, size
from bench.servers import serve_in_process

DOMAINS = size(1500, 100)
# Issue 14: within one window of Instantly's 30 checks a minute, start-up included.
WINDOW_BUDGET_SECONDS = 65


def run() -> dict[str, Figure]:
    with scratch_database():
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from orders import drafts, finders
    from orders.domains import CHECK_BATCH_SIZE, parse_domain_list
    from orders.models import DomainCheck, Workspace
    from orders.ratelimit import get_limiter
    from sandbox.models import RequestLog
    from sandbox.services import sandbox_workspace_create
    from sandbox.switches import switches_set

    settings.ALLOWED_HOSTS = ["*"]
    server, base = serve_in_process()
    try:
        sandbox_ws, key = sandbox_workspace_create(name="bench-check")
        # Instantly's own limits, as the sandbox enforces them: 30 checks per clock minute.
        switches_set(workspace=sandbox_ws, enforce_rate_limits=True)
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        user = get_user_model().objects.create_user("bench-check")
        servers.sandbox_key_save(
            workspace=workspace, secret=key, sandbox=base, label="bench"
        )
        order = drafts.order_draft_create(
            workspace=workspace, by=user, order_type="dfy"
        )
        pasted = parse_domain_list(
            "\n".join(f"candidate{n}-outreach.com" for n in range(DOMAINS))
        )
        if pasted.rejected or len(pasted.domains) != DOMAINS:
            raise RuntimeError(f"the paste was not taken whole: {pasted.rejected[:3]}")
        # The row domain_check_start creates, without its message: no worker runs here.
        check = DomainCheck.objects.create(
            workspace=workspace, order=order, requested_by=user, domains=pasted.domains
        )
        start = time.perf_counter()
        finders.domain_check_run(check=check)
        seconds = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()
    check.refresh_from_db()
    if check.checked != DOMAINS:
        raise RuntimeError(f"the check did not finish: {check.status} {check.error}")
    calls = RequestLog.objects.filter(
        workspace=sandbox_ws, path__endswith="domains/check"
    )
    per_minute = Counter(
        logged.replace(second=0, microsecond=0)
        for logged in calls.values_list("created_at", flat=True)
    )
    rejected = calls.filter(status_code=429).count()
    limiter = type(get_limiter()).__name__
    return {
        f"check_{DOMAINS}_api_calls": Figure(
            calls.count(),
            "calls",
            budget=math.ceil(DOMAINS / CHECK_BATCH_SIZE),
            note=f"batches of {CHECK_BATCH_SIZE}",
        ),
        f"check_{DOMAINS}_rate_limited": Figure(rejected, "429s", budget=0),
        f"check_{DOMAINS}_calls_in_one_minute": Figure(
            max(per_minute.values()),
            "calls",
            budget=30,
            note="the most the sandbox logged in one clock minute",
        ),
        f"check_{DOMAINS}_seconds": Figure(
            seconds,
            "s",
            budget=WINDOW_BUDGET_SECONDS,
            note=f"{check.checked} of {DOMAINS} checked, {limiter}, sandbox limits on",
        ),
    }
