"""The order's copy of its approved quote's prices (what the history and the admin sort by,
docs/performance.md) follows every move that sets or clears the quote."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F, Q

from orders import drafts
from orders.history_generator import orders_generate, workspace_team
from orders.models import Order
from tests.integration.support import submitted_order

pytestmark = pytest.mark.django_db


def copies_match(rows) -> None:  # type: ignore[no-untyped-def]
    stale = rows.exclude(
        Q(approved_quote__isnull=True)
        & Q(approved_due_now__isnull=True)
        & Q(approved_per_month__isnull=True)
    ).exclude(
        approved_due_now=F("approved_quote__due_now"),
        approved_per_month=F("approved_quote__per_month"),
    )
    assert not stale.exists()


def test_submitting_copies_the_quote_and_reopening_clears_it(
    workspace, operator, remote
):  # type: ignore[no-untyped-def]
    order = submitted_order(workspace, operator)
    order.refresh_from_db()
    assert order.approved_quote is not None
    assert order.approved_due_now == order.approved_quote.due_now > Decimal(0)
    assert order.approved_per_month == order.approved_quote.per_month

    drafts.order_reopen(order=order, by=operator)
    reopened = Order.objects.get(pk=order.pk)
    assert reopened.approved_quote_id is None
    assert reopened.approved_due_now is None
    assert reopened.approved_per_month is None


def test_a_generated_history_carries_the_copies(workspace):  # type: ignore[no-untyped-def]
    requesters, approvers = workspace_team(workspace)
    orders_generate(
        workspace=workspace,
        requesters=requesters,
        approvers=approvers,
        orders=60,
        mailboxes=300,
        seed=5,
        every_status=True,
    )
    assert Order.objects.filter(approved_due_now__isnull=False).exists()
    copies_match(Order.objects.all())
