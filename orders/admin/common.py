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


def numbered(order: Order) -> str:
    """The order's name as the portal shows it, with its number when it has a title."""
    if order.title.strip():
        return f"{order.display_name} #{order.pk}"
    return order.display_name


def order_link(order: Order) -> SafeString:
    """The order's name, linking to its admin page."""
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">{}</a>', url, numbered(order))
