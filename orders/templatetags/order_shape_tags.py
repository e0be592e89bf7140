"""The order page's and the builder's "Order again" and "Save as template" card."""

from __future__ import annotations

from typing import Any

from django import template

from orders.models import Order
from orders.order_template_forms import TemplateSaveForm
from orders.order_templates import ORDER_AGAIN_STATUSES

register = template.Library()


@register.inclusion_tag("orders/_order_shape_actions.html", takes_context=True)
def order_shape_actions(
    context: template.Context, order: Order, items: Any
) -> dict[str, Any]:
    """`items` are the domains the page already read (the builder's rows, the order page's
    items): the card costs the page no query of its own."""
    has_items = bool(items)
    return {
        "current_workspace": context.get("current_workspace"),
        "csrf_token": context.get("csrf_token"),
        "order": order,
        "has_items": has_items,
        "can_order_again": has_items and order.status in ORDER_AGAIN_STATUSES,
        "template_form": TemplateSaveForm(initial={"name": order.display_name}),
    }
