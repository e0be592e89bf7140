"""Django admin: where staff review every workspace's order history (docs/architecture.md).

Orders, their quotes and their events are view-only here for everyone, superusers included:
every change to an order goes through a service that writes an OrderEvent, and money is what
Instantly quoted, so nothing in the admin may edit or delete either. Staff act through the
actions, which call the same services as the portal.

Change lists join what their columns show (`list_select_related`) and defer the large text
columns, so their query count does not grow with the page size (pinned in
tests/orders/test_admin.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from orders.history import money_text, orders_csv_chunks, orders_search
from orders.models import (
    InstantlyKey,
    Mailbox,
    Membership,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Provider,
    Quote,
    Workspace,
)

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts
    from django.utils.functional import _StrOrPromise

# The order page lists mailboxes in one table; beyond this many it says how many it left out.
MAILBOX_TABLE_LIMIT = 500


class MembershipInline(admin.TabularInline[Membership, Workspace]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


def _numbered(order: Order) -> str:
    """The order's name as the portal shows it, with its number when it has a title."""
    if order.title.strip():
        return f"{order.display_name} #{order.pk}"
    return order.display_name


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = [
        "name",
        "slug",
        "approval_policy",
        "threshold",
        "budget",
        "created_at",
    ]
    list_filter = ["approval_policy"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [MembershipInline]

    @admin.display(description="Approval threshold", ordering="approval_threshold")
    def threshold(self, obj: Workspace) -> str:
        return money_text(obj.approval_threshold)

    @admin.display(description="Monthly budget", ordering="monthly_budget")
    def budget(self, obj: Workspace) -> str:
        return money_text(obj.monthly_budget)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "workspace", "role", "limit", "created_at"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]

    @admin.display(description="Approval limit", ordering="approval_limit")
    def limit(self, obj: Membership) -> str:
        return money_text(obj.approval_limit)


@admin.register(InstantlyKey)
class InstantlyKeyAdmin(admin.ModelAdmin[InstantlyKey]):
    """Keys are set from the workspace settings page, where the secret is typed once and
    encrypted; here staff see only the mask and the verification state."""

    list_display = [
        "workspace",
        "label",
        "masked",
        "base_url",
        "status",
        "last_verified_at",
    ]
    list_filter = ["status"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "label"]
    fields = [
        "workspace",
        "label",
        "masked",
        "base_url",
        "status",
        "status_detail",
        "last_verified_at",
        "updated_by",
        "updated_at",
    ]
    readonly_fields = [
        "workspace",
        "masked",
        "base_url",
        "status",
        "status_detail",
        "last_verified_at",
        "updated_by",
        "updated_at",
    ]

    @admin.display(description="Key")
    def masked(self, obj: InstantlyKey) -> str:
        return obj.masked

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- Orders: view-only ----------------------------------------------------------------------

ITEM_FIELDS = (
    "position",
    "domain",
    "provider",
    "forwarding_domain",
    "mailbox_count",
)
QUOTE_FIELDS = (
    "created_at",
    "short_fingerprint",
    "due_now_money",
    "per_month_money",
    "per_year_money",
    "discount_money",
    "is_valid",
    "order_error",
)
EVENT_FIELDS = (
    "created_at",
    "kind",
    "from_status",
    "to_status",
    "actor",
    "detail",
)


class ViewOnlyMixin:
    """No add, change or delete for anyone, superusers included; viewing stays."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderItemInline(ViewOnlyMixin, admin.TabularInline[OrderItem, Order]):
    model = OrderItem
    extra = 0
    fields = ITEM_FIELDS
    readonly_fields = ITEM_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderItem]:
        return super().get_queryset(request).annotate(n_mailboxes=Count("mailboxes"))

    @admin.display(description="Mailboxes")
    def mailbox_count(self, obj: OrderItem) -> int:
        return int(getattr(obj, "n_mailboxes", 0))


class QuoteInline(ViewOnlyMixin, admin.TabularInline[Quote, Order]):
    model = Quote
    extra = 0
    fields = QUOTE_FIELDS
    readonly_fields = QUOTE_FIELDS
    show_change_link = True
    # The stored payload and raw answer can be large; the quote's own page shows them.
    exclude = ["payload", "response_body"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Quote]:
        return super().get_queryset(request).defer("payload", "response_body")

    @admin.display(description="Fingerprint")
    def short_fingerprint(self, obj: Quote) -> str:
        return obj.fingerprint[:12]

    @admin.display(description="Due now")
    def due_now_money(self, obj: Quote) -> str:
        return money_text(obj.due_now)

    @admin.display(description="Per month")
    def per_month_money(self, obj: Quote) -> str:
        return money_text(obj.per_month)

    @admin.display(description="Per year")
    def per_year_money(self, obj: Quote) -> str:
        return money_text(obj.per_year)

    @admin.display(description="Discount")
    def discount_money(self, obj: Quote) -> str:
        return money_text(obj.discount)


class OrderEventInline(ViewOnlyMixin, admin.TabularInline[OrderEvent, Order]):
    model = OrderEvent
    extra = 0
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS
    ordering = ["created_at", "pk"]
    verbose_name_plural = "Event timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor")


class ProviderFilter(admin.SimpleListFilter):
    """Orders with at least one domain of the provider (orders may mix providers)."""

    title = "provider"
    parameter_name = "provider"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[Any, _StrOrPromise]]:
        return [(str(value), label) for value, label in Provider.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in {str(v) for v in Provider.values}:
            return queryset
        return queryset.filter(
            pk__in=OrderItem.objects.filter(provider=int(str(value))).values("order_id")
        )


ORDER_FIELDSETS: list[tuple[_StrOrPromise | None, _FieldOpts]] = [
    (
        None,
        {
            "fields": [
                "workspace",
                "title",
                "order_type",
                "status",
                "requester",
                "approver",
                "decided_by",
                "decision_comment",
            ]
        },
    ),
    (
        "Approved quote",
        {"fields": ["approved_quote", "due_now", "monthly", "yearly"]},
    ),
    (
        "Timeline",
        {
            "fields": [
                "created_at",
                "submitted_at",
                "decided_at",
                "attempt_started_at",
                "placed_at",
                "provisioning_at",
                "ready_at",
                "finished_at",
                "last_progress_at",
                "stuck_at",
                "updated_at",
            ]
        },
    ),
    (
        "Placement and reconciliation",
        {
            "classes": ["collapse"],
            "fields": [
                "submission_attempt_id",
                "placement_tries",
                "placement_response",
                "refusal",
                "drift",
                "reconcile_checks",
                "last_reconciled_at",
                "reconcile_evidence",
                "attention_reason",
            ],
        },
    ),
    ("Mailboxes", {"fields": ["mailbox_table"]}),
]


def _workspace_ids(queryset: QuerySet[Order]) -> list[int]:
    return list(queryset.order_by().values_list("workspace_id", flat=True).distinct())


@admin.register(Order)
class OrderAdmin(ViewOnlyMixin, admin.ModelAdmin[Order]):
    list_display = [
        "order_label",
        "workspace",
        "order_type",
        "status",
        "requester",
        "approver",
        "due_now",
        "monthly",
        "created_at",
    ]
    list_filter = ["status", "order_type", ProviderFilter, "workspace"]
    list_select_related = ["workspace", "requester", "approver", "approved_quote"]
    date_hierarchy = "created_at"
    # Domains and mailbox addresses are searched by `get_search_results` (orders_search).
    search_fields = [
        "title",
        "requester__username",
        "requester__email",
        "=submission_attempt_id",
    ]
    search_help_text = (
        "Order number, title, requester, domain, or mailbox address (name@domain)."
    )
    list_per_page = 50
    # Newest first by id, which follows creation: unlike created_at (indexed only per
    # workspace), the primary key lets PostgreSQL read just one page across all workspaces.
    ordering = ["-pk"]
    actions = ["resync_from_instantly", "reconcile", "export_csv"]
    readonly_fields = ["due_now", "monthly", "yearly", "mailbox_table"]
    inlines = [OrderItemInline, QuoteInline, OrderEventInline]
    fieldsets = ORDER_FIELDSETS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        """Joined with what the list shows, without the large text columns: the raw
        placement answer and the approved quote's payload and simulation answer can be tens
        of kilobytes each and no column needs them."""
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related)
            .defer(
                "placement_response",
                "approved_quote__payload",
                "approved_quote__response_body",
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        found, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        term = search_term.strip()
        if not term:
            return found, may_have_duplicates
        by_number = Q()
        if term.lstrip("#").isdigit():
            by_number = Q(pk=int(term.lstrip("#")))
        matches = queryset.filter(
            Q(pk__in=found.values("pk"))
            | Q(pk__in=orders_search(Order.objects.all(), term).values("pk"))
            | by_number
        )
        return matches, False

    @admin.display(description="Order", ordering="pk")
    def order_label(self, obj: Order) -> str:
        return _numbered(obj)

    @admin.display(description="Due now", ordering="approved_quote__due_now")
    def due_now(self, obj: Order) -> str:
        return money_text(obj.approved_quote.due_now if obj.approved_quote else None)

    @admin.display(description="Monthly", ordering="approved_quote__per_month")
    def monthly(self, obj: Order) -> str:
        return money_text(obj.approved_quote.per_month if obj.approved_quote else None)

    @admin.display(description="Yearly")
    def yearly(self, obj: Order) -> str:
        return money_text(obj.approved_quote.per_year if obj.approved_quote else None)

    @admin.display(description="Mailboxes")
    def mailbox_table(self, obj: Order) -> SafeString:
        mailboxes = list(
            Mailbox.objects.filter(item__order=obj)
            .select_related("item")
            .order_by("item__position", "item__pk", "position", "pk")[
                : MAILBOX_TABLE_LIMIT + 1
            ]
        )
        if not mailboxes:
            return format_html("<p>{}</p>", "No mailboxes.")
        shown = mailboxes[:MAILBOX_TABLE_LIMIT]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.email,
                    m.first_name,
                    m.last_name,
                    m.get_status_display(),
                    timezone.localtime(m.ready_at).strftime("%Y-%m-%d %H:%M")
                    if m.ready_at
                    else "",
                    m.remote_id,
                )
                for m in shown
            ),
        )
        more = (
            format_html("<p>Showing the first {} mailboxes.</p>", MAILBOX_TABLE_LIMIT)
            if len(mailboxes) > MAILBOX_TABLE_LIMIT
            else ""
        )
        return format_html(
            "<table><thead><tr><th>Address</th><th>Name</th><th>Status</th>"
            "<th>Ready at</th><th>Remote id</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            more,
        )

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Actions that read Instantly and move orders: staff with the order change
        permission (all superusers). The forms stay view-only regardless."""
        return bool(request.user.is_staff) and request.user.has_perm(
            "orders.change_order"
        )

    @admin.action(
        description="Re-sync from Instantly (poll their workspaces)",
        permissions=["operate"],
    )
    def resync_from_instantly(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> None:
        """The portal's fulfilment poll, once per workspace of the selected orders."""
        from orders.fulfilment import fulfilment_poll_workspace
        from orders.instantly import InstantlyError
        from orders.services import InstantlyKeyMissing

        for workspace in Workspace.objects.filter(pk__in=_workspace_ids(queryset)):
            try:
                result = fulfilment_poll_workspace(workspace=workspace)
            except (InstantlyError, InstantlyKeyMissing) as exc:
                self.message_user(
                    request, f"{workspace}: not synced: {exc}", messages.ERROR
                )
                continue
            if result.skipped:
                text = f"{workspace}: a sync is already running."
            else:
                text = (
                    f"{workspace}: {result.orders} orders followed, "
                    f"{result.mailboxes_changed} mailboxes and {result.orders_changed} "
                    f"orders moved ({result.api_calls} API calls)."
                )
            self.message_user(request, text, messages.SUCCESS)

    @admin.action(
        description="Reconcile unknown outcomes with Instantly",
        permissions=["operate"],
    )
    def reconcile(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        """The portal's reconciliation for each selected order whose outcome is unknown;
        it reads Instantly's lists and never places anything."""
        from orders.instantly import InstantlyError
        from orders.services import InstantlyKeyMissing
        from orders.workflow import order_reconcile

        unknown = list(
            queryset.filter(status=OrderStatus.UNKNOWN).select_related("workspace")
        )
        skipped = queryset.exclude(status=OrderStatus.UNKNOWN).count()
        if skipped:
            self.message_user(
                request,
                f"{skipped} order(s) skipped: only an unknown outcome can be reconciled.",
                messages.WARNING,
            )
        for order in unknown:
            try:
                order = order_reconcile(order=order)
            except (InstantlyError, InstantlyKeyMissing) as exc:
                self.message_user(
                    request, f"#{order.pk}: not reconciled: {exc}", messages.ERROR
                )
                continue
            self.message_user(
                request,
                f"#{order.pk}: {order.get_status_display()} "
                f"(check {order.reconcile_checks}).",
                messages.SUCCESS,
            )

    @admin.action(description="Export selected orders as CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> HttpResponse:
        """The portal's export (same columns), streamed."""
        selected = Order.objects.filter(pk__in=queryset.values("pk")).order_by(
            "-created_at", "-pk"
        )
        response = StreamingHttpResponse(
            orders_csv_chunks(selected), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = (
            f'attachment; filename="orders-admin-{stamp}.csv"'
        )
        # Admin actions are typed as returning HttpResponse; Django serves any response.
        return response  # type: ignore[return-value]


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
class OrderEventAdmin(ViewOnlyMixin, admin.ModelAdmin[OrderEvent]):
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return (
            super()
            .get_queryset(request)
            .select_related(*self.list_select_related)
            .defer(
                "order__placement_response",
                "order__drift",
                "order__refusal",
                "order__reconcile_evidence",
            )
        )

    @admin.display(description="Order", ordering="order_id")
    def order_link(self, obj: OrderEvent) -> SafeString:
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, _numbered(obj.order))

    @admin.display(description="Workspace", ordering="order__workspace__name")
    def workspace(self, obj: OrderEvent) -> Workspace:
        return obj.order.workspace
