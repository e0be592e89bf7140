"""Availability check of 500 candidate domains: how many calls, and whether they stay inside
Instantly's 30-per-minute budget for domains/check (budget in bench/__main__.py)."""

from __future__ import annotations

import time

from bench.harness import Figure, scratch_database, size

DOMAINS = size(500, 40)


def run() -> dict[str, Figure]:
    with scratch_database():
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from orders import drafts, finders, instantly_keys
    from orders.models import DomainCheck, Workspace
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.models import RequestLog
    from sandbox.services import sandbox_workspace_create
    from sandbox.testing import in_process_transport

    settings.ALLOWED_HOSTS = ["*"]
    sandbox_ws, key = sandbox_workspace_create(name="bench-check")
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-check")
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=key,
        label="bench",
        base_url="http://testserver/sandbox/api/v2",
    )
    order = drafts.order_draft_create(workspace=workspace, by=user, order_type="dfy")
    check = DomainCheck.objects.create(
        workspace=workspace,
        order=order,
        domains=[f"candidate{n}-outreach.com" for n in range(DOMAINS)],
    )
    limiter = MemoryRateLimiter()
    start = time.perf_counter()
    with instantly_keys.instantly_client_for(
        workspace=workspace, transport=in_process_transport(), limiter=limiter
    ) as client:
        finders.domain_check_run(check=check, client=client)
    seconds = time.perf_counter() - start
    check.refresh_from_db()
    if check.checked != DOMAINS:
        raise RuntimeError(f"the check did not finish: {check.status} {check.error}")
    calls = RequestLog.objects.filter(
        workspace=sandbox_ws, path__endswith="domains/check"
    ).count()
    rejected = RequestLog.objects.filter(workspace=sandbox_ws, status_code=429).count()
    return {
        f"check_{DOMAINS}_api_calls": Figure(calls, "calls", budget=10),
        f"check_{DOMAINS}_rate_limited": Figure(rejected, "429s", budget=0),
        f"check_{DOMAINS}_seconds": Figure(
            seconds, "s", note=f"{check.checked} of {DOMAINS} checked"
        ),
    }
