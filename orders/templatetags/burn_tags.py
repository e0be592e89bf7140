"""The order page's burn panel of each delivered domain (orders/burn_panel.py)."""

from __future__ import annotations

from typing import Any

from django import template

from orders import burn_panel
from orders.models import OrderItem

register = template.Library()


@register.simple_tag(takes_context=True)
def domain_burn_panel(context: dict[str, Any], item: OrderItem) -> burn_panel.BurnPanel:
    """`item` as the order page loads it: its order known, its burn joined, its mailboxes
    prefetched (order_page.detail_context), so the panel reads nothing more."""
    return burn_panel.panel_for(
        item=item, order=item.order, membership=context.get("current_membership")
    )
