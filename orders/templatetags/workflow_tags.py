"""Template access to the approval count (navigation) and the order page's workflow panel,
so pages rendered by other views (base layout, the order page) can show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from orders import approval_inbox, order_page
from orders.models import Membership, Order

register = template.Library()


@register.simple_tag(takes_context=True)
def approvals_count(context: template.Context) -> int:
    membership = context.get("current_membership")
    return approval_inbox.approvals_waiting(
        membership=membership if isinstance(membership, Membership) else None
    )


@register.simple_tag(takes_context=True)
def order_panel(context: template.Context, order: Order) -> Any:
    membership = context.get("current_membership")
    return order_page.order_panel(
        order=order,
        membership=membership if isinstance(membership, Membership) else None,
    )


@register.simple_tag
def reconcile_attempts(order: Order) -> Any:
    """The order's reconciliation checks, newest first (docs/lifecycle-bounds.md)."""
    from orders import workflow

    return workflow.reconcile_attempts(order)


@register.simple_tag
def rejection_notice(order: Order) -> Any:
    """The rejection an editable order is back with, or None (shown until resubmission)."""
    return order_page.rejection_notice(order)


@register.filter
def iso_time(value: object) -> datetime | object:
    """An ISO-8601 string from an event's or evidence's JSON as a datetime, so templates can
    format it like every other time; anything else is returned unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return timezone.localtime(datetime.fromisoformat(value))
    except ValueError:
        return value
