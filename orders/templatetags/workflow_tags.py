"""Template access to the approval count (navigation) and the order page's workflow panel,
so pages rendered by other views (base layout, the order page) can show them."""

from __future__ import annotations

from typing import Any

from django import template

from orders import workflow_views
from orders.models import Membership, Order

register = template.Library()


@register.simple_tag(takes_context=True)
def approvals_count(context: template.Context) -> int:
    membership = context.get("current_membership")
    return workflow_views.approvals_waiting(
        membership=membership if isinstance(membership, Membership) else None
    )


@register.simple_tag(takes_context=True)
def order_panel(context: template.Context, order: Order) -> Any:
    membership = context.get("current_membership")
    return workflow_views.order_panel(
        order=order,
        membership=membership if isinstance(membership, Membership) else None,
    )
