"""Fulfilment polls against the sandbox (budgets in bench/__main__.py and below).

`poll_api_calls`: one poll of 1,000 in-flight orders / 20,000 mailboxes must cost the pages of
the two list endpoints (≤ 100 items each), not one call per order, with no rate-limit refusals.

`poll_api_calls_with_history`: the same in-flight orders after 10,000 delivered orders /
200,000 mailboxes listed before them. The workspace's first poll reads both lists whole; the
next one resumes each list at the page of the oldest item still awaited, so it must stay
within 1.1x of the in-flight pages (a list's first page read may also hold delivered rows).

The remote's rows are inserted straight into the sandbox's tables (20 mailboxes a domain; in
the first figure half of them past the provisioning delay): the list endpoints only page
through them, so provider rules are not what is measured here.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bench.harness import Figure, scratch_database, size

if TYPE_CHECKING:
    from orders.fulfilment import PollResult
    from orders.models import OrderStatus, Workspace
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.models import SandboxWorkspace

ORDERS = size(1_000, 20)
MAILBOXES_PER_ORDER = size(20, 3)
# Delivered before the in-flight orders; whole pages, so the in-flight rows start a page.
HISTORY_ORDERS = size(10_000, 100)
HISTORY_MAILBOXES_PER_ORDER = size(20, 2)
PAGE = 100
# A poll with history may read this much more than the pages of what is in flight.
HISTORY_SLACK = 1.1


def run() -> dict[str, Figure]:
    with scratch_database():
        figures = _measure()
        figures |= _measure_with_history()
        return figures


def _in_flight_pages() -> int:
    return math.ceil(ORDERS / PAGE) + math.ceil(ORDERS * MAILBOXES_PER_ORDER / PAGE)


def _measure() -> dict[str, Figure]:
    from django.utils import timezone

    from orders.models import Mailbox, MailboxStatus, OrderStatus
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.models import RequestLog
    from sandbox.switches import switches_set

    workspace, sandbox_ws = _remote("bench")
    switches_set(workspace=sandbox_ws, provisioning_delay_seconds=120)
    # Instantly's timestamps (and the sandbox's cursors) have millisecond precision.
    now = timezone.now().replace(microsecond=0)
    started = now - timedelta(hours=1)
    # Half the orders were placed long enough ago to be provisioned, half a minute ago.
    created = [started if n % 2 else now - timedelta(seconds=30) for n in range(ORDERS)]
    _ordered(
        workspace,
        sandbox_ws,
        name="bench",
        created=created,
        mailboxes=MAILBOXES_PER_ORDER,
        status=OrderStatus.PLACED,
    )
    mailboxes = ORDERS * MAILBOXES_PER_ORDER
    pages = _in_flight_pages()

    result, seconds = _poll(workspace, MemoryRateLimiter())

    ours = Mailbox.objects.filter(item__order__workspace=workspace)
    ready = ours.filter(status=MailboxStatus.READY).count()
    provisioning = ours.filter(status=MailboxStatus.PROVISIONING).count()
    if ready + provisioning != mailboxes:
        raise RuntimeError(
            f"the poll mapped {ready + provisioning} of {mailboxes} mailboxes"
        )
    rejected = RequestLog.objects.filter(workspace=sandbox_ws, status_code=429).count()
    return {
        "poll_api_calls": Figure(
            result.api_calls,
            "calls",
            budget=pages,
            note=f"{ORDERS} orders, {mailboxes} mailboxes, {pages} pages of {PAGE}",
        ),
        "poll_rate_limited": Figure(rejected, "429s", budget=0),
        "poll_seconds": Figure(
            seconds,
            "s",
            note=f"{ready} ready, {provisioning} provisioning, "
            f"{result.orders_changed} orders moved",
        ),
    }


def _measure_with_history() -> dict[str, Figure]:
    """The in-flight orders behind a delivered history: the first poll reads it all once, the
    measured one (when Instantly has finished the in-flight mailboxes) only what is in flight."""
    from django.utils import timezone

    from orders.models import Mailbox, MailboxStatus, OrderStatus
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.switches import switches_set

    workspace, sandbox_ws = _remote("bench-history")
    now = timezone.now().replace(microsecond=0)
    # A year of delivered orders, a few minutes apart, all before the in-flight ones.
    first_delivered = now - timedelta(days=365)
    _ordered(
        workspace,
        sandbox_ws,
        name="delivered",
        created=[first_delivered + timedelta(minutes=n) for n in range(HISTORY_ORDERS)],
        mailboxes=HISTORY_MAILBOXES_PER_ORDER,
        status=OrderStatus.READY,
    )
    _ordered(
        workspace,
        sandbox_ws,
        name="flight",
        created=[now - timedelta(minutes=30)] * ORDERS,
        mailboxes=MAILBOXES_PER_ORDER,
        status=OrderStatus.PLACED,
    )
    limiter = MemoryRateLimiter()
    # Still provisioning at the workspace's first poll, which reads both lists whole ...
    switches_set(workspace=sandbox_ws, provisioning_delay_seconds=3600)
    first, _seconds = _poll(workspace, limiter)
    # ... and ready at the next, which must read only the pages of what is in flight.
    switches_set(workspace=sandbox_ws, provisioning_delay_seconds=0)
    result, seconds = _poll(workspace, limiter)

    in_flight = ORDERS * MAILBOXES_PER_ORDER
    ready = Mailbox.objects.filter(
        item__order__workspace=workspace,
        item__domain__startswith="flight-",
        status=MailboxStatus.READY,
    ).count()
    if ready != in_flight:
        raise RuntimeError(f"the poll made {ready} of {in_flight} mailboxes ready")
    pages = _in_flight_pages()
    delivered = HISTORY_ORDERS * HISTORY_MAILBOXES_PER_ORDER
    return {
        "poll_api_calls_with_history": Figure(
            result.api_calls,
            "calls",
            budget=round(pages * HISTORY_SLACK, 1),
            note=f"{pages} in-flight pages behind {HISTORY_ORDERS} delivered orders, "
            f"{delivered} mailboxes; the first poll read {first.api_calls}",
        ),
        "poll_with_history_seconds": Figure(
            seconds, "s", note=f"{result.orders_changed} orders moved"
        ),
    }


def _remote(slug: str) -> tuple[Workspace, SandboxWorkspace]:
    """A portal workspace whose key is one of its own sandbox workspace."""
    from django.conf import settings

    from orders import instantly_keys
    from orders.models import Workspace
    from sandbox.services import sandbox_workspace_create

    settings.ALLOWED_HOSTS = ["*"]
    sandbox_ws, key = sandbox_workspace_create(name=slug)
    workspace = Workspace.objects.create(name=slug.title(), slug=slug)
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=key,
        label="bench",
        base_url="http://testserver/sandbox/api/v2",
    )
    return workspace, sandbox_ws


def _ordered(
    workspace: Workspace,
    sandbox_ws: SandboxWorkspace,
    *,
    name: str,
    created: Sequence[datetime],
    mailboxes: int,
    status: OrderStatus,
) -> None:
    """One order of one domain per `created` moment, on both sides: the portal's order with
    its mailboxes (ready when the order is, else requested) and Instantly's rows, each with
    its password (shown once past the sandbox's provisioning delay)."""
    from django.contrib.auth import get_user_model

    from orders.models import Mailbox, MailboxStatus, Order, OrderItem, OrderStatus
    from sandbox.models import DfyAccount, DomainOrder

    user, _new = get_user_model().objects.get_or_create(username="bench-poll")
    done = status == OrderStatus.READY
    orders = Order.objects.bulk_create(
        (
            Order(
                workspace=workspace,
                requester=user,
                title=f"Bench {n}",
                status=status,
                attempt_started_at=moment - timedelta(seconds=5),
                placed_at=moment,
                last_progress_at=moment,
                ready_at=moment if done else None,
                finished_at=moment if done else None,
            )
            for n, moment in enumerate(created)
        ),
        batch_size=2_000,
    )
    items = OrderItem.objects.bulk_create(
        (
            OrderItem(order=order, domain=f"{name}-{n}.com")
            for n, order in enumerate(orders)
        ),
        batch_size=2_000,
    )
    Mailbox.objects.bulk_create(
        (
            Mailbox(
                item=item,
                email_prefix=f"m{m}",
                first_name="Bench",
                last_name=f"User {m}",
                position=m,
                status=MailboxStatus.READY if done else MailboxStatus.REQUESTED,
            )
            for item in items
            for m in range(mailboxes)
        ),
        batch_size=2_000,
    )
    domain_rows = DomainOrder.objects.bulk_create(
        (
            DomainOrder(
                workspace=sandbox_ws,
                domain=item.domain,
                email_provider=1,
                timestamp_created=created[n],
            )
            for n, item in enumerate(items)
        ),
        batch_size=2_000,
    )
    DfyAccount.objects.bulk_create(
        (
            DfyAccount(
                id=uuid.uuid4(),
                workspace=sandbox_ws,
                order=row,
                domain=row.domain,
                email=f"m{m}@{row.domain}",
                email_provider=1,
                first_name="Bench",
                last_name=f"User {m}",
                password=f"secret-{n}-{m}",
                timestamp_created=created[n],
            )
            for n, row in enumerate(domain_rows)
            for m in range(mailboxes)
        ),
        batch_size=2_000,
    )


def _poll(workspace: Workspace, limiter: MemoryRateLimiter) -> tuple[PollResult, float]:
    """One poll through the in-process sandbox, and how long it took."""
    from orders import fulfilment, instantly_keys
    from sandbox.testing import in_process_transport

    start = time.perf_counter()
    with instantly_keys.instantly_client_for(
        workspace=workspace, transport=in_process_transport(), limiter=limiter
    ) as client:
        result = fulfilment.fulfilment_poll_workspace(
            workspace=workspace, client=client
        )
    return result, time.perf_counter() - start
