"""One fulfilment poll cycle over 1,000 in-flight orders / 20,000 mailboxes against the sandbox
(budget in bench/__main__.py): API calls must equal the pages of the two list endpoints (≤ 100 items each), not
one per order, with no rate-limit refusals.

The remote's rows are inserted straight into the sandbox's tables (1,000 domains with 20
mailboxes each, half of them past the provisioning delay): the list endpoints only page
through them, so provider rules are not what is measured here.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import timedelta

from bench.harness import Figure, scratch_database, size

ORDERS = size(1_000, 20)
MAILBOXES_PER_ORDER = size(20, 3)
PAGE = 100


def run() -> dict[str, Figure]:
    with scratch_database():
        return _measure()


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from orders import fulfilment, instantly_keys
    from orders.models import (
        Mailbox,
        MailboxStatus,
        Order,
        OrderItem,
        OrderStatus,
        Workspace,
    )
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.models import DfyAccount, DomainOrder, RequestLog
    from sandbox.services import sandbox_workspace_create
    from sandbox.switches import switches_set
    from sandbox.testing import in_process_transport

    settings.ALLOWED_HOSTS = ["*"]
    sandbox_ws, key = sandbox_workspace_create(name="bench-poll")
    switches_set(workspace=sandbox_ws, provisioning_delay_seconds=120)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-poll")
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=key,
        label="bench",
        base_url="http://testserver/sandbox/api/v2",
    )
    # Instantly's timestamps (and the sandbox's cursors) have millisecond precision.
    now = timezone.now().replace(microsecond=0)
    started = now - timedelta(hours=1)
    # Half the orders were placed long enough ago to be provisioned, half a minute ago.
    created = [started if n % 2 else now - timedelta(seconds=30) for n in range(ORDERS)]
    orders = Order.objects.bulk_create(
        Order(
            workspace=workspace,
            requester=user,
            title=f"Bench {n}",
            status=OrderStatus.PLACED,
            attempt_started_at=created[n] - timedelta(seconds=5),
            placed_at=created[n],
            last_progress_at=created[n],
        )
        for n in range(ORDERS)
    )
    items = OrderItem.objects.bulk_create(
        OrderItem(order=order, domain=f"bench-{n}.com")
        for n, order in enumerate(orders)
    )
    Mailbox.objects.bulk_create(
        (
            Mailbox(
                item=item,
                email_prefix=f"m{m}",
                first_name="Bench",
                last_name=f"User {m}",
                position=m,
            )
            for item in items
            for m in range(MAILBOXES_PER_ORDER)
        ),
        batch_size=2_000,
    )
    domain_rows = DomainOrder.objects.bulk_create(
        DomainOrder(
            workspace=sandbox_ws,
            domain=item.domain,
            email_provider=1,
            timestamp_created=created[n],
        )
        for n, item in enumerate(items)
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
            for m in range(MAILBOXES_PER_ORDER)
        ),
        batch_size=2_000,
    )
    mailboxes = ORDERS * MAILBOXES_PER_ORDER
    pages = math.ceil(ORDERS / PAGE) + math.ceil(mailboxes / PAGE)

    start = time.perf_counter()
    with instantly_keys.instantly_client_for(
        workspace=workspace,
        transport=in_process_transport(),
        limiter=MemoryRateLimiter(),
    ) as client:
        result = fulfilment.fulfilment_poll_workspace(
            workspace=workspace, client=client
        )
    seconds = time.perf_counter() - start

    ready = Mailbox.objects.filter(status=MailboxStatus.READY).count()
    provisioning = Mailbox.objects.filter(status=MailboxStatus.PROVISIONING).count()
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
