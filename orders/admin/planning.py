"""Order templates and the persona library, read-only (issue 16). Both are edited on the
portal's own pages (orders/order_templates.py, orders/personas.py), which keep their rules:
a template's shape must be orderable, a persona is unique per workspace. Here staff see what
each workspace keeps, and a template's shape in words as its page shows it."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from orders.admin.common import ViewOnlyMixin, order_large_fields, order_link
from orders.models import OrderTemplate, OrderType, Persona
from orders.order_shapes import ShapeError, shape_from_json
from orders.order_templates import shape_summary


@admin.register(OrderTemplate)
class OrderTemplateAdmin(ViewOnlyMixin, admin.ModelAdmin[OrderTemplate]):
    list_display = [
        "name",
        "workspace",
        "type_label",
        "domains",
        "made_from",
        "created_by",
        "created_at",
    ]
    list_filter = ["order_type", "workspace"]
    search_fields = ["name", "created_by__username", "=source_order__id"]
    date_hierarchy = "created_at"
    fields = [
        "name",
        "workspace",
        "type_label",
        "domains",
        "domain_lines",
        "made_from",
        "created_by",
        "created_at",
    ]
    readonly_fields = ["type_label", "domains", "domain_lines", "made_from"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderTemplate]:
        # Everything a row shows, in the list's one query.
        return (
            super()
            .get_queryset(request)
            .select_related("workspace", "created_by", "source_order")
            .defer(*order_large_fields("source_order"))
        )

    @admin.display(description="Type", ordering="order_type")
    def type_label(self, obj: OrderTemplate) -> str:
        if obj.order_type in OrderType.values:
            return str(OrderType(obj.order_type).label)
        return obj.order_type or "–"

    @admin.display(description="Domains")
    def domains(self, obj: OrderTemplate) -> str:
        try:
            summary, _personas, _forwarding, _lines = shape_summary(
                shape_from_json(obj.shape)
            )
        except ShapeError as exc:
            return str(exc)
        return "; ".join(summary) or "none"

    @admin.display(description="Per domain")
    def domain_lines(self, obj: OrderTemplate) -> SafeString | str:
        try:
            *_summary, lines = shape_summary(shape_from_json(obj.shape))
        except ShapeError as exc:
            return str(exc)
        return format_html_join(
            "\n",
            "<p>{}. {}: {} (forwarding: {})</p>",
            (
                (line.place, line.provider, line.prefixes, line.forwarding)
                for line in lines
            ),
        )

    @admin.display(description="Made from")
    def made_from(self, obj: OrderTemplate) -> SafeString | str:
        return order_link(obj.source_order) if obj.source_order else "–"


@admin.register(Persona)
class PersonaAdmin(ViewOnlyMixin, admin.ModelAdmin[Persona]):
    list_display = ["last_name", "first_name", "title", "workspace", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["first_name", "last_name", "title"]
    fields = [
        "workspace",
        "first_name",
        "last_name",
        "title",
        "signature",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Persona]:
        return super().get_queryset(request).select_related("workspace")
