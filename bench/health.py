"""One health poll of delivered mailboxes against the sandbox (docs/health.md, budgets in
docs/performance.md).

`health_poll_api_calls`: one poll of 1,000 live orders / 20,000 mailboxes must cost the pages
of the accounts list (`filter=ACC_FILTER_DFY`, 100 a page: 200 calls), not one call per
mailbox, with no rate-limit refusals. The remote's rows are inserted straight into the
sandbox's tables as bench/poll.py does (ready orders, mailboxes set up an hour ago, so every
one is connected and warming); a few are switched to disconnected so the poll also writes an
attention episode, as a real one would.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta

from bench.harness import Figure, scratch_database, size
from bench.poll import _ordered, _remote

ORDERS = size(1_000, 40)
MAILBOXES_PER_ORDER = size(20, 3)
# Orders with one disconnected mailbox each.
BROKEN = size(10, 2)
PAGE = 100


def run() -> dict[str, Figure]:
    with scratch_database():
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.db.models import Count
    from django.utils import timezone

    from orders import instantly_keys, mailbox_health
    from orders.models import Order, OrderHealth, OrderStatus
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.models import RequestLog
    from sandbox.switches import account_health_set
    from sandbox.testing import in_process_transport

    workspace, sandbox_ws = _remote("bench-health")
    now = timezone.now().replace(microsecond=0)
    _ordered(
        workspace,
        sandbox_ws,
        name="live",
        created=[now - timedelta(hours=1)] * ORDERS,
        mailboxes=MAILBOXES_PER_ORDER,
        status=OrderStatus.READY,
    )
    account_health_set(
        workspace=sandbox_ws,
        emails=[f"m0@live-{n}.com" for n in range(BROKEN)],
        status=-1,
    )
    mailboxes = ORDERS * MAILBOXES_PER_ORDER
    pages = math.ceil(mailboxes / PAGE)

    start = time.perf_counter()
    with instantly_keys.instantly_client_for(
        workspace=workspace,
        transport=in_process_transport(),
        limiter=MemoryRateLimiter(),
    ) as client:
        result = mailbox_health.health_poll_workspace(
            workspace=workspace, client=client
        )
    seconds = time.perf_counter() - start

    healths = dict(
        Order.objects.filter(workspace=workspace)
        .values_list("health")
        .annotate(n=Count("pk"))
        .order_by()
    )
    expected = {OrderHealth.LIVE: ORDERS - BROKEN, OrderHealth.ATTENTION: BROKEN}
    if healths != expected:
        raise RuntimeError(f"the health poll gave {healths}, not {expected}")
    rejected = RequestLog.objects.filter(workspace=sandbox_ws, status_code=429).count()
    return {
        "health_poll_api_calls": Figure(
            result.api_calls,
            "calls",
            budget=pages,
            note=f"{ORDERS} live orders, {mailboxes} mailboxes, {pages} pages of {PAGE}",
        ),
        "health_poll_rate_limited": Figure(rejected, "429s", budget=0),
        "health_poll_seconds": Figure(
            seconds,
            "s",
            note=f"{result.mailboxes_changed} mailboxes read, "
            f"{result.orders_changed} orders changed health ({BROKEN} to attention)",
        ),
    }
