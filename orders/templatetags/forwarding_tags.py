"""The order page's forwarding panels, for every view that renders the order page."""

from __future__ import annotations

from django import template

from orders import forwarding_panel
from orders.models import Order

register = template.Library()


@register.simple_tag
def forwarding_panels(order: Order) -> list[forwarding_panel.Panel]:
    return forwarding_panel.order_panels(order)
