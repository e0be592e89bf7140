"""Read-only admin pages for what the portal records about orders: quotes, the event trail,
who edited a draft, the builder's undo snapshots, every cancellation run and every
notification delivery attempt.

All are append-only records written by services, so nothing here may add, change or delete
them. None holds a secret; the delivery pages show the portal's own error sentence, never a
URL, header or signing secret (orders/notifications.py writes it that way).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from orders.admin.common import ViewOnlyMixin, order_large_fields, order_link
from orders.history_table import money_text
from orders.models import (
    CancellationRun,
    DraftSnapshot,
    NotificationDelivery,
    Order,
    OrderEdit,
    OrderEvent,
    Quote,
    Workspace,
)

# An order's columns no list of its records shows.
ORDER_LARGE_FIELDS = tuple(order_large_fields("order"))


M = TypeVar("M", bound=Model)


class OfAnOrder(Protocol):
    @property
    def order(self) -> Order: ...


class OrderRecordAdmin(ViewOnlyMixin, admin.ModelAdmin[M]):
    """A read-only list of one kind of order record, joined with its order (and whatever
    else `list_select_related` names) in the same query."""

    list_select_related = ["order__workspace"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related)
            .defer(*ORDER_LARGE_FIELDS)
        )

    @admin.display(description="Order", ordering="order_id")
    def order_link(self, obj: OfAnOrder) -> SafeString:
        return order_link(obj.order)

    @admin.display(description="Workspace", ordering="order__workspace__name")
    def workspace(self, obj: OfAnOrder) -> Workspace:
        return obj.order.workspace


@admin.register(Quote)
class QuoteAdmin(ViewOnlyMixin, admin.ModelAdmin[Quote]):
    """Quotes are immutable: what Instantly priced for one exact payload."""

    list_display = [
        "__str__",
        "order",
        "due_now_money",
        "per_month_money",
        "per_year_money",
        "is_valid",
        "created_at",
    ]
    list_filter = ["is_valid"]
    list_select_related = ["order"]
    search_fields = ["fingerprint", "=order__id"]

    @admin.display(description="Due now", ordering="due_now")
    def due_now_money(self, obj: Quote) -> str:
        return money_text(obj.due_now)

    @admin.display(description="Per month", ordering="per_month")
    def per_month_money(self, obj: Quote) -> str:
        return money_text(obj.per_month)

    @admin.display(description="Per year", ordering="per_year")
    def per_year_money(self, obj: Quote) -> str:
        return money_text(obj.per_year)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Quote]:
        return super().get_queryset(request).defer("payload", "response_body")


@admin.register(OrderEvent)
class OrderEventAdmin(OrderRecordAdmin[OrderEvent]):
    """The append-only audit trail: readable, never added, changed or deleted here."""

    list_display = [
        "created_at",
        "order_link",
        "workspace",
        "kind",
        "from_status",
        "to_status",
        "actor",
    ]
    list_filter = ["kind", "to_status", "order__workspace"]
    list_select_related = ["order__workspace", "actor"]
    date_hierarchy = "created_at"
    search_fields = ["=order__id", "kind", "order__title", "actor__username"]
    fields = [
        "created_at",
        "order",
        "kind",
        "from_status",
        "to_status",
        "actor",
        "detail",
    ]


@admin.register(OrderEdit)
class OrderEditAdmin(OrderRecordAdmin[OrderEdit]):
    """Who changed a draft's contents, and the version their save produced: what the
    four-eyes rule reads (docs/security.md)."""

    list_display = ["created_at", "order_link", "workspace", "version", "editor"]
    list_filter = ["order__workspace"]
    list_select_related = ["order__workspace", "editor"]
    date_hierarchy = "created_at"
    search_fields = ["=order__id", "order__title", "editor__username"]
    fields = ["created_at", "order", "version", "editor"]


@admin.register(DraftSnapshot)
class DraftSnapshotAdmin(OrderRecordAdmin[DraftSnapshot]):
    """A draft's items as they were just before a destructive builder action (what "Undo"
    brings back)."""

    list_display = [
        "created_at",
        "order_link",
        "workspace",
        "label",
        "version",
        "taken_by",
    ]
    list_filter = ["order__workspace"]
    list_select_related = ["order__workspace", "taken_by"]
    date_hierarchy = "created_at"
    search_fields = ["=order__id", "order__title", "label", "taken_by__username"]
    fields = ["created_at", "order", "version", "label", "taken_by", "items"]


@admin.register(CancellationRun)
class CancellationRunAdmin(OrderRecordAdmin[CancellationRun]):
    """Every confirmed cancellation and what became of it. One left running was claimed by a
    worker that stopped: Instantly's accounts list tells what was cancelled; it is never
    sent again from here."""

    list_display = [
        "created_at",
        "order_link",
        "workspace",
        "status",
        "requested_by",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "workspace"]
    # The run's own workspace column (a field of the row), and its order's name.
    list_select_related = ["workspace", "order", "requested_by"]
    date_hierarchy = "created_at"
    search_fields = ["=order__id", "order__title", "requested_by__username"]
    fields = [
        "created_at",
        "workspace",
        "order",
        "requested_by",
        "status",
        "emails",
        "domains_cancelled",
        "results",
        "error",
        "started_at",
        "finished_at",
    ]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(OrderRecordAdmin[NotificationDelivery]):
    """Every attempt at delivering a notification by email or webhook, with its outcome
    (docs/webhooks.md). The workspace's webhook secret is never shown (nor stored here)."""

    list_display = [
        "created_at",
        "order_link",
        "workspace",
        "event",
        "channel",
        "attempt",
        "status",
        "http_status",
        "duration_ms",
    ]
    list_filter = ["status", "channel", "event", "workspace"]
    # The delivery's own workspace column (a field of the row), and its order's name.
    list_select_related = ["workspace", "order"]
    date_hierarchy = "created_at"
    search_fields = ["=event_id", "=order__id", "order__title"]
    fields = [
        "created_at",
        "workspace",
        "order",
        "event",
        "channel",
        "event_id",
        "attempt",
        "status",
        "http_status",
        "duration_ms",
        "error",
    ]
