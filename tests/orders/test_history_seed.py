"""The demo history `make run` seeds, and the bulk generator behind it and the benchmark."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.history_generator import orders_generate
from orders.models import (
    Mailbox,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
    Quote,
    Workspace,
)
from orders.payload import fingerprint, order_payload

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[int, ...]:
    return (
        Order.objects.count(),
        Mailbox.objects.count(),
        Quote.objects.count(),
        OrderEvent.objects.count(),
    )


def test_seed_demo_gives_a_believable_year_once(settings):
    call_command("seed_demo", verbosity=0)
    first = snapshot()

    call_command("seed_demo", verbosity=0)

    demo = Workspace.objects.get(slug="demo")
    orders = Order.objects.filter(workspace=demo)
    assert snapshot() == first
    assert 200 <= orders.count() <= 500
    assert set(orders.values_list("status", flat=True)) == set(OrderStatus.values)
    assert set(orders.values_list("order_type", flat=True)) == set(OrderType.values)
    assert set(orders.values_list("items__provider", flat=True)) == set(Provider.values)
    oldest = orders.order_by("created_at").first().created_at
    assert timezone.now() - oldest > timedelta(days=300)
    months = {o.created_at.strftime("%Y-%m") for o in orders}
    assert len(months) >= 12


def test_generated_orders_are_priced_like_instantly(workspace, operator, lead):
    orders_generate(
        workspace=workspace, requesters=[operator], approvers=[lead], orders=80, seed=3
    )

    for order in Order.objects.filter(
        workspace=workspace, order_type="dfy"
    ).prefetch_related("items__mailboxes", "quotes"):
        quote = order.quotes.get()
        items = list(order.items.all())
        monthly = sum(
            (
                Decimal("20.00")
                if i.provider == Provider.MICROSOFT
                else Decimal("5.00") * len(i.mailboxes.all())
                for i in items
            ),
            Decimal("0"),
        )
        assert quote.per_year == Decimal("15.00") * len(items)
        assert quote.per_month == monthly
        assert quote.due_now == quote.per_month + quote.per_year
        body = json.loads(quote.response_body, parse_float=Decimal)
        assert Decimal(str(body["total_price"])) == quote.due_now
        assert quote.fingerprint == fingerprint(order_payload(order))


def test_generated_history_is_consistent_by_status(workspace, operator, lead):
    orders_generate(
        workspace=workspace,
        requesters=[operator],
        approvers=[lead],
        orders=60,
        seed=5,
        every_status=True,
    )
    orders = Order.objects.filter(workspace=workspace)

    for order in orders.filter(status="ready"):
        assert order.placed_at <= order.ready_at <= timezone.now()
        assert order.approved_quote is not None
        assert set(
            Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
        ) == {"ready"}
    for order in orders.filter(status="draft"):
        assert order.approved_quote is None
    # Submitting freezes the quote, as the portal does: a waiting request shows what it costs.
    for order in orders.filter(status__in=["pending_approval", "rejected"]):
        assert order.approved_quote is not None
        assert order.placed_at is None
    assert not orders.filter(status="rejected", approver__isnull=False).exists()
    assert all(
        e.created_at <= timezone.now()
        for e in OrderEvent.objects.filter(order__workspace=workspace)
    )


def test_generator_hits_the_mailbox_target_exactly(workspace, operator, lead):
    result = orders_generate(
        workspace=workspace,
        requesters=[operator],
        approvers=[lead],
        orders=100,
        mailboxes=2000,
        seed=9,
    )

    assert result.orders == Order.objects.filter(workspace=workspace).count() == 100
    assert (
        result.mailboxes
        == Mailbox.objects.filter(item__order__workspace=workspace).count()
        == 2000
    )


def test_generate_orders_command_builds_a_team_and_reports_what_it_wrote():
    out = io.StringIO()

    call_command(
        "generate_orders",
        workspace="gen",
        orders=20,
        mailboxes=120,
        seed=4,
        stdout=out,
    )

    workspace = Workspace.objects.get(slug="gen")
    assert workspace.name == "Gen"
    assert workspace.memberships.count() == 6
    assert Order.objects.filter(workspace=workspace).count() == 20
    domains = OrderItem.objects.filter(order__workspace=workspace).count()
    mailboxes = Mailbox.objects.filter(item__order__workspace=workspace).count()
    events = OrderEvent.objects.filter(order__workspace=workspace).count()
    assert out.getvalue() == (
        f"20 orders, {domains} domains, {mailboxes} mailboxes, 20 quotes, "
        f"{events} events in gen.\n"
    )


def test_generate_orders_command_refuses_no_orders():
    with pytest.raises(CommandError, match="--orders must be at least 1"):
        call_command("generate_orders", workspace="gen", orders=0)
