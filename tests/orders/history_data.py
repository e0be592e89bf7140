"""Hand-made orders for the history, dashboard and admin tests: each one says exactly what
its test needs (status, providers, mailboxes, money, dates)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from orders.history_generator import explicit_timestamps
from orders.models import Mailbox, Order, OrderItem, Quote
from orders.models.order import quote_frozen


def make_order(
    workspace,
    requester,
    *,
    status="ready",
    order_type="dfy",
    title="",
    items=(("alpha.com", 1, ("anna", "ben")),),
    approver=None,
    due_now=None,
    per_month=None,
    per_year=Decimal("0"),
    created_at=None,
    mailbox_status="requested",
    **fields,
) -> Order:
    """One order with its items and mailboxes. `items` are (domain, provider, prefixes);
    `due_now` given means an approved quote with these amounts."""
    created_at = created_at or timezone.now()
    with explicit_timestamps():
        order = Order.objects.create(
            workspace=workspace,
            requester=requester,
            approver=approver,
            status=status,
            order_type=order_type,
            title=title,
            created_at=created_at,
            updated_at=fields.pop("updated_at", created_at),
            **fields,
        )
        if due_now is not None:
            quote = Quote.objects.create(
                order=order,
                payload={},
                fingerprint="f" * 64,
                response_body="{}",
                due_now=Decimal(due_now),
                per_month=Decimal(per_month if per_month is not None else due_now),
                per_year=Decimal(per_year),
                is_valid=True,
                created_at=created_at,
            )
            for name, value in quote_frozen(quote).items():
                setattr(order, name, value)
            order.save(update_fields=list(quote_frozen(None)))
    for position, (domain, provider, prefixes) in enumerate(items):
        item = OrderItem.objects.create(
            order=order, domain=domain, provider=provider, position=position
        )
        Mailbox.objects.bulk_create(
            Mailbox(
                item=item,
                email_prefix=prefix,
                first_name=prefix.capitalize(),
                last_name="Test",
                status=mailbox_status,
                position=n,
            )
            for n, prefix in enumerate(prefixes)
        )
    return order


def aware(year, month, day, hour=12) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour))
