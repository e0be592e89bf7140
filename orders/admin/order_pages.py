"""The order pages: the list staff search and filter, and each order's read-only record of
items, mailboxes, quotes and events (the actions are in order_actions.py).

Change lists join what their columns show (`list_select_related`) and defer the large text
columns, so their query count does not grow with the page size (pinned in
tests/orders/test_admin.py).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext

from orders.admin.common import ViewOnlyMixin, numbered
from orders.admin.order_actions import export_csv, reconcile, resync_from_instantly
from orders.history import IdsFirstPaginator, orders_matching
from orders.history_table import money_text
from orders.models import (
    Mailbox,
    Order,
    OrderEvent,
    OrderItem,
    Provider,
    Quote,
)

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts
    from django.utils.functional import _StrOrPromise

# The order page lists mailboxes in one table; beyond this many it says how many it left out.
MAILBOX_TABLE_LIMIT = 500

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


# The most order ids a search passes on as a list rather than as its subquery.
SEARCH_IDS_INLINE = 500


def _word_matching(word: str) -> QuerySet[Any]:
    """The ids of the orders one word of an admin search finds in `OrderAdmin.search_fields`:
    title or requester's username or email containing it, or the submission attempt id it
    spells. One SELECT per field, each answered by an index (trigrams over titles on
    PostgreSQL, the requester's index), joined by UNION (why: `orders_matching`). Django's own
    search ORs the fields across the requester join, which tests every order (about 10 ms at
    10,000 orders), and the list runs its search four times: count, page, and the date
    hierarchy's two queries."""
    people = get_user_model().objects.filter(
        Q(username__icontains=word) | Q(email__icontains=word)
    )
    fields = [
        Order.objects.filter(title__icontains=word),
        Order.objects.filter(requester__in=people),
    ]
    with contextlib.suppress(ValueError):  # not an id: that field cannot match
        fields.append(Order.objects.filter(submission_attempt_id=uuid.UUID(word)))
    titled, *others = [field.order_by().values("pk") for field in fields]
    return titled.union(*others)


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
    # Its two queries (first and last day, then the years or months or days that have
    # orders) run on the filtered list: cheap because the filters and the search are.
    date_hierarchy = "created_at"
    # What the search box says it searches; `get_search_results` matches these fields (see
    # `_word_matching`), and domains and mailbox addresses (orders_search).
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
    # A filtered or searched list says "Show all" rather than counting every order a second
    # time for "(N total)".
    show_full_result_count = False
    # A page sorted by price or deep in the list reads its ids before joining its rows.
    paginator = IdsFirstPaginator
    # Newest first by id, which follows creation: the primary key lets PostgreSQL read just
    # one page across all workspaces.
    ordering = ["-pk"]
    actions = [resync_from_instantly, reconcile, export_csv]
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
        """Orders matching every word of the term in one of `search_fields` (Django's rule),
        or the whole term as a domain or mailbox address (`orders_search`), or the order
        number: one `pk IN (... UNION ...)`, whatever the term."""
        term = search_term.strip()
        if not term:
            return queryset, False
        by_words = Order.objects.all()
        for bit in smart_split(term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            by_words = by_words.filter(pk__in=_word_matching(bit))
        found = [by_words.order_by().values("pk"), orders_matching(term)]
        if term.lstrip("#").isdigit():
            number = int(term.lstrip("#"))
            found.append(Order.objects.filter(pk=number).order_by().values("pk"))
        by_words_ids, *others = found
        matching = by_words_ids.union(*others)
        # The list runs its search four times (count, page, and the date links' two
        # queries). A search that finds a few orders is run once and its ids passed on:
        # on SQLite a mailbox address is matched by scanning every mailbox, about 25 ms
        # each time at 200,000 (docs/performance.md). A broad one stays a subquery.
        few = [row["pk"] for row in matching[: SEARCH_IDS_INLINE + 1]]
        if len(few) <= SEARCH_IDS_INLINE:
            return queryset.filter(pk__in=few), False
        return queryset.filter(pk__in=matching), False

    def action_checkbox(self, obj: Order) -> SafeString:
        """Django's checkbox that selects a row for an action, the same HTML written out
        instead of rendered through the checkbox widget's templates: 50 widget renderings
        were about a sixth of the list's time (tests/orders/test_admin.py keeps the two
        equal)."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select"'
            ' aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            label,
        )

    @admin.display(description="Order", ordering="pk")
    def order_label(self, obj: Order) -> str:
        return numbered(obj)

    @admin.display(description="Due now", ordering="approved_due_now")
    def due_now(self, obj: Order) -> str:
        return money_text(obj.approved_quote.due_now if obj.approved_quote else None)

    @admin.display(description="Monthly", ordering="approved_per_month")
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
        """Actions that queue the portal's Instantly tasks (re-sync, reconcile): staff with
        the order change permission (all superusers). The forms stay view-only regardless."""
        return bool(request.user.is_staff) and request.user.has_perm(
            "orders.change_order"
        )
