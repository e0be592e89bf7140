"""What the admin pages share: the view-only rule and how an order is named and linked."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from orders.models import Order


class ViewOnlyMixin:
    """No add, change or delete for anyone, superusers included; viewing stays."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# An order's columns no list shows: Instantly's answers, each can be tens of kilobytes.
ORDER_LARGE_COLUMNS = ("placement_response", "drift", "refusal", "reconcile_evidence")


def order_large_fields(path: str) -> list[str]:
    """The large columns of the order reached through `path` ("item__order"), to defer."""
    return [f"{path}__{name}" for name in ORDER_LARGE_COLUMNS]


def numbered(order: Order) -> str:
    """The order's name as the portal shows it, with its number when it has a title."""
    if order.title.strip():
        return f"{order.display_name} #{order.pk}"
    return order.display_name


def order_link(order: Order) -> SafeString:
    """The order's name, linking to its admin page."""
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">{}</a>', url, numbered(order))
