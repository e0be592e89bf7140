"""A 75-mailbox Microsoft domain (Instantly 2026-08: 50-100 per new domain, $20/month per
domain) built, quoted, approved, placed and followed to ready through the portal, with a real
Celery worker and the sandbox over real HTTP."""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from orders import tasks
from orders.models import Mailbox, MailboxStatus, Order, OrderStatus, Quote
from sandbox.models import DfyAccount, DomainOrder, real_order_posts
from tests.integration.test_money_path import (  # noqa: F401 (fixtures)
    _services,
    remote,
    status_of,
    wait_for,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]
HX = {"HX-Request": "true"}
COUNT = 75


def test_a_75_mailbox_microsoft_domain_goes_from_builder_to_ready(
    live_server,
    remote,  # noqa: F811 (the imported fixture)
    workspace,
    operator,
    lead,
    celery_worker_process,
):
    operator_client, lead_client = Client(), Client()
    operator_client.force_login(operator)
    lead_client.force_login(lead)
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Outlook"},
    )
    order = Order.objects.get()
    build = {
        "version": "1",
        "order_type": "dfy",
        "title": "Outlook",
        "item-0-domain": "bundle-mail.com",
        "item-0-provider": "3",
        "item-0-forwarding": "",
    }
    for j in range(COUNT):
        build |= {
            f"item-0-mb-{j}-first": f"Ann{j}",
            f"item-0-mb-{j}-last": "Roe",
            f"item-0-mb-{j}-prefix": f"ann{j}",
        }

    built = operator_client.post(
        reverse("orders:build", args=[workspace.slug, order.pk]), build, headers=HX
    )

    assert built.status_code == 200
    assert Mailbox.objects.filter(item__order=order).count() == COUNT
    quote = Quote.objects.get()
    assert quote.is_valid, quote.response_body[:500]
    # $20 a month for the whole domain, whatever the mailbox count; $15 a year for the name.
    assert (quote.per_month, quote.per_year, quote.due_now) == (
        Decimal("20.00"),
        Decimal("15.00"),
        Decimal("35.00"),
    )
    assert "$20.00" in built.content.decode()

    order.refresh_from_db()
    operator_client.post(
        reverse("orders:submit", args=[workspace.slug, order.pk]),
        {"version": order.version, "fingerprint": quote.fingerprint},
    )
    assert status_of(order) == OrderStatus.PENDING_APPROVAL
    lead_client.post(
        reverse("orders:approve", args=[workspace.slug, order.pk]),
        {"quote": quote.pk, "comment": "go"},
    )
    wait_for(
        lambda: status_of(order) == OrderStatus.PLACED, "placed", celery_worker_process
    )
    time.sleep(1.1)  # the sandbox's provisioning delay
    for _ in range(10):
        tasks.poll_fulfilment_task.delay()
        with contextlib.suppress(AssertionError):
            wait_for(lambda: status_of(order) == OrderStatus.READY, "ready", timeout=3)
            break

    assert status_of(order) == OrderStatus.READY, Path(
        celery_worker_process.log_path
    ).read_text()[-4000:]
    assert real_order_posts(remote) == 1
    sandbox_order = DomainOrder.objects.get(workspace=remote)
    assert (sandbox_order.domain, sandbox_order.email_provider) == (
        "bundle-mail.com",
        3,
    )
    assert DfyAccount.objects.filter(order=sandbox_order).count() == COUNT
    assert set(
        Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
    ) == {MailboxStatus.READY}
    page = lead_client.get(
        reverse("orders:detail", args=[workspace.slug, order.pk])
    ).content.decode()
    assert "Ready" in page
