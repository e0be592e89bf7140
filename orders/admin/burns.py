"""Burned domains, read-only: what was marked, by whom, and what the portal proposed in its
place (the replacement draft and the scheduled cancellation). Marking happens on the order
page through orders/burns.py, which records the order's events; nothing here changes it."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from orders.admin.common import ViewOnlyMixin, order_large_fields, order_link
from orders.models import DomainBurn


@admin.register(DomainBurn)
class DomainBurnAdmin(ViewOnlyMixin, admin.ModelAdmin[DomainBurn]):
    list_display = [
        "marked_at",
        "domain",
        "burned_order",
        "workspace",
        "reason",
        "marked_by",
        "replacement_order",
        "schedule_status",
    ]
    list_filter = ["reason", "item__provider", "workspace"]
    date_hierarchy = "marked_at"
    search_fields = ["item__domain", "=item__order__id", "marked_by__username"]
    fields = [
        "marked_at",
        "workspace",
        "item",
        "reason",
        "note",
        "marked_by",
        "replacement",
        "schedule",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DomainBurn]:
        # Everything a row shows, in the list's one query.
        return (
            super()
            .get_queryset(request)
            .select_related(
                "workspace",
                "item__order",
                "marked_by",
                "replacement",
                "schedule",
            )
            .defer(
                *order_large_fields("item__order"), *order_large_fields("replacement")
            )
        )

    @admin.display(description="Domain", ordering="item__domain")
    def domain(self, obj: DomainBurn) -> str:
        return obj.item.domain

    @admin.display(description="Order", ordering="item__order_id")
    def burned_order(self, obj: DomainBurn) -> SafeString:
        return order_link(obj.item.order)

    @admin.display(description="Replacement")
    def replacement_order(self, obj: DomainBurn) -> SafeString | str:
        return order_link(obj.replacement) if obj.replacement else "–"

    @admin.display(description="Cancellation")
    def schedule_status(self, obj: DomainBurn) -> str:
        schedule = obj.schedule
        if schedule is None:
            return "–"
        return (
            f"{schedule.get_status_display()}, {schedule.renewal_on:%d %b %Y} renewal"
        )
