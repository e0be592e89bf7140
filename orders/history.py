"""The order history: filters, search, sorting and the CSV export, shared by portal and admin.

Everything starts from a workspace-scoped queryset (`Order.objects.in_workspace`); the admin
passes its own queryset (all workspaces) to `orders_search` and `orders_csv_chunks`.

Query shape, kept fixed whatever the page size: one COUNT, one page of orders (requester,
approver and approved quote joined), one grouped query over the page's items for domains,
providers and mailbox counts. The CSV export walks the filtered set with a server-side
cursor in chunks and runs the same grouped query once per chunk.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from itertools import islice
from typing import Any, Final, TypeVar, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count, F, OrderBy, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from orders.models import (
    IN_FLIGHT_STATUSES,
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
    Workspace,
)
from orders.spend import ACTIVE_STATUSES, attention_q

PER_PAGE_CHOICES: Final = (25, 50, 100, 200)
DEFAULT_PER_PAGE: Final = 50
# Orders per server-side cursor fetch in the export; each chunk also costs one grouped query
# over its items, so 500 keeps both the memory (a few MB) and the query count small.
CSV_CHUNK_SIZE: Final = 500


@dataclass(frozen=True)
class SortKey:
    label: str
    field: str
    # Only nullable columns get NULLS LAST: on a NOT NULL column it would stop PostgreSQL
    # from walking the (workspace, -created_at) index for the default sort.
    nullable: bool = False


SORTS: Final[dict[str, SortKey]] = {
    "id": SortKey("Order", "pk"),
    "type": SortKey("Type", "order_type"),
    "status": SortKey("Status", "status"),
    "requester": SortKey("Requested by", "requester__username"),
    "approver": SortKey("Approved by", "approver__username", nullable=True),
    "due_now": SortKey("Due now", "approved_quote__due_now", nullable=True),
    "monthly": SortKey("Monthly", "approved_quote__per_month", nullable=True),
    "created": SortKey("Created", "created_at"),
}
DEFAULT_SORT: Final = "-created"
SORT_CHOICES: Final = [
    (f"{sign}{key}", f"{sort.label} ({'descending' if sign else 'ascending'})")
    for key, sort in SORTS.items()
    for sign in ("", "-")
]


# The dashboard's cards count groups of statuses; each card links to its group here, so the
# history lists exactly the orders the card counted.
STATUS_GROUPS: Final = {
    "active": "Active: placed, provisioning, ready or partly cancelled",
    "in_flight": "In flight: submitting, reconciling, placed or provisioning",
    "attention": "Needs attention or stuck",
}


def status_group_q(group: str, now: datetime) -> Q:
    if group == "active":
        return Q(status__in=ACTIVE_STATUSES)
    if group == "in_flight":
        return Q(status__in=IN_FLIGHT_STATUSES)
    return attention_q(now)


# Orders exist only between these days; the bounds also keep "the day after the end date"
# (the filter's exclusive end) and its time-zone shift inside what datetime can hold.
EARLIEST_DATE: Final = date(2000, 1, 1)
LATEST_DATE: Final = date(2999, 12, 31)
_DATE_RANGE_MESSAGE: Final = (
    f"Enter a date between {EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}."
)
_DATE_VALIDATORS: Final = [
    MinValueValidator(EARLIEST_DATE, message=_DATE_RANGE_MESSAGE),
    MaxValueValidator(LATEST_DATE, message=_DATE_RANGE_MESSAGE),
]


class HistoryFilterForm(forms.Form):
    """The history's GET parameters. Bound to request.GET; every field is optional."""

    q = forms.CharField(
        label="Search",
        max_length=200,
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Title, domain, or mailbox address (name@domain)",
            }
        ),
    )
    status = forms.ChoiceField(
        choices=[
            ("", "Any status"),
            ("Groups", list(STATUS_GROUPS.items())),
            ("Statuses", OrderStatus.choices),
        ],
        required=False,
    )
    type = forms.ChoiceField(
        label="Order type",
        choices=[("", "Any type"), *OrderType.choices],
        required=False,
    )
    provider = forms.TypedChoiceField(
        choices=[("", "Any provider"), *Provider.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    requester = forms.TypedChoiceField(
        label="Requested by", coerce=int, empty_value=None, required=False
    )
    approver = forms.TypedChoiceField(
        label="Approved by", coerce=int, empty_value=None, required=False
    )
    created_from = forms.DateField(
        label="Created from",
        required=False,
        validators=_DATE_VALIDATORS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    created_to = forms.DateField(
        label="Created to",
        required=False,
        validators=_DATE_VALIDATORS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    sort = forms.ChoiceField(label="Sort", choices=SORT_CHOICES, required=False)
    per_page = forms.TypedChoiceField(
        label="Per page",
        choices=[(n, str(n)) for n in PER_PAGE_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def __init__(
        self, *args: Any, people: Sequence[tuple[int, str]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for name in ("requester", "approver"):
            people_field = cast("forms.TypedChoiceField", self.fields[name])
            people_field.choices = [("", "Anyone"), *people]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if start and end and end < start:
            self.add_error("created_to", "This date is before the “Created from” date.")
        return cleaned

    def problems(self) -> list[str]:
        """Each error with the label of the field it belongs to, for one message box."""
        named = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else None
            for error in errors:
                named.append(f"{label or name.replace('_', ' ').capitalize()}: {error}")
        return named


@dataclass(frozen=True)
class HistoryFilters:
    """The valid part of the filter form; an invalid field falls back to "no filter"."""

    q: str = ""
    status: str = ""
    order_type: str = ""
    provider: int | None = None
    requester: int | None = None
    approver: int | None = None
    created_from: date | None = None
    created_to: date | None = None
    sort: str = DEFAULT_SORT
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def from_form(cls, form: HistoryFilterForm) -> HistoryFilters:
        form.is_valid()
        data: dict[str, Any] = getattr(form, "cleaned_data", {})
        return cls(
            q=data.get("q") or "",
            status=data.get("status") or "",
            order_type=data.get("type") or "",
            provider=data.get("provider"),
            requester=data.get("requester"),
            approver=data.get("approver"),
            # Both dates only when the range itself is valid (`clean` removes a bad end).
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            sort=data.get("sort") or DEFAULT_SORT,
            per_page=data.get("per_page") or DEFAULT_PER_PAGE,
        )


def workspace_people(workspace: Workspace) -> list[tuple[int, str]]:
    """Users who can appear as requester or approver: members, and former members whose
    orders are still in the history. One query; `pk IN (...)` lets PostgreSQL hash each
    list once instead of probing the orders per user."""
    user_model = get_user_model()
    orders = Order.objects.in_workspace(workspace).order_by()
    people = (
        user_model.objects.filter(
            Q(pk__in=Membership.objects.filter(workspace=workspace).values("user_id"))
            | Q(pk__in=orders.values("requester_id"))
            | Q(pk__in=orders.filter(approver__isnull=False).values("approver_id"))
        )
        .order_by("username")
        .values_list("pk", "username")
    )
    return list(people)


def orders_search(queryset: QuerySet[Order], term: str) -> QuerySet[Order]:
    """Orders whose title or a domain contains `term`, or, when `term` has an "@", a mailbox with
    that address: "jane@acme.com" exactly (case-insensitive), "jane@" every mailbox named
    jane, "@acme" mailboxes on domains starting with acme.

    Mailbox names are searched only with an "@": a bare word would scan every mailbox
    (200,000 in the benchmark) on each keystroke, and domains are what people type.
    `pk IN (subquery)` rather than EXISTS: the subquery does not depend on the row, so
    PostgreSQL hashes it once instead of probing per order.
    """
    term = term.strip()
    if not term:
        return queryset
    if "@" not in term:
        return queryset.filter(
            Q(title__icontains=term)
            | Q(
                pk__in=OrderItem.objects.filter(domain__icontains=term).values(
                    "order_id"
                )
            )
        )
    local, _, domain = term.partition("@")
    mailboxes = Mailbox.objects.all()
    if local:
        mailboxes = mailboxes.filter(email_prefix__iexact=local)
    if domain:
        mailboxes = (
            mailboxes.filter(item__domain__iexact=domain)
            if local
            else mailboxes.filter(item__domain__istartswith=domain)
        )
    return queryset.filter(pk__in=mailboxes.values("item__order_id"))


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def orders_filter(
    queryset: QuerySet[Order], filters: HistoryFilters, *, tz: tzinfo | None = None
) -> QuerySet[Order]:
    """Apply the filters and the sort. Dates are whole days in the current time zone."""
    tz = tz or timezone.get_current_timezone()
    if filters.status in STATUS_GROUPS:
        queryset = queryset.filter(status_group_q(filters.status, timezone.now()))
    elif filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.order_type:
        queryset = queryset.filter(order_type=filters.order_type)
    if filters.provider is not None:
        queryset = queryset.filter(
            pk__in=OrderItem.objects.filter(provider=filters.provider).values(
                "order_id"
            )
        )
    if filters.requester is not None:
        queryset = queryset.filter(requester_id=filters.requester)
    if filters.approver is not None:
        queryset = queryset.filter(approver_id=filters.approver)
    if filters.created_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.created_from, tz))
    if filters.created_to:
        queryset = queryset.filter(
            created_at__lt=_day_start(filters.created_to + timedelta(days=1), tz)
        )
    queryset = orders_search(queryset, filters.q)
    return queryset.order_by(*sort_ordering(filters.sort))


def sort_ordering(sort: str) -> list[OrderBy]:
    name = sort.removeprefix("-")
    if name in SORTS:
        key, descending = SORTS[name], sort.startswith("-")
    else:
        key, descending = SORTS["created"], True
    column = F(key.field)
    # Nulls last both ways, on every database: unpriced drafts do not crowd the top.
    nulls_last = True if key.nullable else None
    first = (
        column.desc(nulls_last=nulls_last)
        if descending
        else column.asc(nulls_last=nulls_last)
    )
    if key.field == "pk":
        return [first]
    return [first, F("pk").desc()]


def history_orders(workspace: Workspace, filters: HistoryFilters) -> QuerySet[Order]:
    """The workspace's orders, filtered and sorted, loading only what a history row shows."""
    return (
        orders_filter(Order.objects.in_workspace(workspace), filters)
        .select_related("requester", "approver", "approved_quote")
        .only(*ROW_FIELDS)
    )


ROW_FIELDS: Final = (
    "pk",
    "title",
    "order_type",
    "status",
    "created_at",
    "submitted_at",
    "decided_at",
    "placed_at",
    "ready_at",
    "workspace_id",
    "requester__username",
    "approver__username",
    "approved_quote__due_now",
    "approved_quote__per_month",
    "approved_quote__per_year",
)


@dataclass
class OrderSummary:
    """What an order row shows about its items: computed per page (or CSV chunk)."""

    domains: list[str] = field(default_factory=list)
    providers: set[int] = field(default_factory=set)
    mailboxes: int = 0
    ready: int = 0
    cancelled: int = 0

    @property
    def provider_labels(self) -> list[str]:
        return [Provider(p).label for p in sorted(self.providers)]

    @property
    def first_domain(self) -> str:
        return self.domains[0] if self.domains else ""

    @property
    def more_domains(self) -> int:
        return max(0, len(self.domains) - 1)


# Table-width labels; the full ones (OrderType.label) are in the filter and the detail page.
TYPE_SHORT: Final = {
    OrderType.DFY: "New domains",
    OrderType.PRE_WARMED_UP: "Pre-warmed",
    OrderType.EXTRA_ACCOUNTS: "Extra mailboxes",
}


def money_text(amount: Decimal | None) -> str:
    return "—" if amount is None else f"${amount:,.2f}"


@dataclass(frozen=True)
class HistoryRow:
    """One table row, every cell already text: a page can hold 200 rows and template filters
    (floatformat, date, url) per cell cost more than the queries."""

    pk: int
    url: str
    title: str
    # Untitled orders carry their number in the name ("Untitled order #318").
    titled: bool
    type_label: str
    status: str
    status_label: str
    providers: str
    first_domain: str
    more_domains: int
    mailboxes: int
    ready: int
    requester: str
    approver: str
    due_now: str
    monthly: str
    created_date: str
    created_full: str
    created_iso: str


def history_rows(orders: Sequence[Order], *, workspace_slug: str) -> list[HistoryRow]:
    """One page's rows with their item summaries: one grouped query."""
    summaries = order_summaries([order.pk for order in orders])
    # The order page URL differs only by the id: reverse once, not once per row.
    marker = 999_999_999
    url = reverse("orders:detail", kwargs={"slug": workspace_slug, "pk": marker})
    prefix, _, suffix = url.partition(str(marker))
    rows = []
    for order in orders:
        summary = summaries.get(order.pk) or OrderSummary()
        quote = order.approved_quote
        created = timezone.localtime(order.created_at)
        rows.append(
            HistoryRow(
                pk=order.pk,
                url=f"{prefix}{order.pk}{suffix}",
                title=order.display_name,
                titled=bool(order.title.strip()),
                type_label=TYPE_SHORT.get(
                    OrderType(order.order_type), order.order_type
                ),
                status=order.status,
                status_label=order.get_status_display(),
                providers=", ".join(summary.provider_labels),
                first_domain=summary.first_domain,
                more_domains=summary.more_domains,
                mailboxes=summary.mailboxes,
                ready=summary.ready,
                requester=order.requester.get_username(),
                approver=order.approver.get_username() if order.approver else "—",
                due_now=money_text(quote.due_now if quote else None),
                monthly=money_text(quote.per_month if quote else None),
                created_date=f"{created:%Y-%m-%d}",
                created_full=f"{created:%Y-%m-%d %H:%M}",
                created_iso=created.isoformat(),
            )
        )
    return rows


def order_summaries(order_ids: Sequence[int]) -> dict[int, OrderSummary]:
    """Domains, providers and mailbox counts of the given orders, in one grouped query."""
    if not order_ids:
        return {}
    rows = (
        OrderItem.objects.filter(order_id__in=order_ids)
        .values_list("order_id", "domain", "provider")
        .annotate(
            n=Count("mailboxes"),
            ready=Count("mailboxes", filter=Q(mailboxes__status=MailboxStatus.READY)),
            cancelled=Count(
                "mailboxes", filter=Q(mailboxes__status=MailboxStatus.CANCELLED)
            ),
        )
        # Grouping by the item's own key keeps one row per item, in the order's item order.
        .order_by("order_id", "position", "pk")
    )
    summaries: dict[int, OrderSummary] = {}
    for order_id, domain, provider, n, ready, cancelled in rows:
        summary = summaries.setdefault(order_id, OrderSummary())
        summary.domains.append(domain)
        summary.providers.add(provider)
        summary.mailboxes += n
        summary.ready += ready
        summary.cancelled += cancelled
    return summaries


# --- CSV export -----------------------------------------------------------------------------

CSV_COLUMNS: Final = [
    "order_id",
    "workspace",
    "title",
    "order_type",
    "status",
    "requester",
    "approver",
    "created_at",
    "submitted_at",
    "decided_at",
    "placed_at",
    "ready_at",
    "providers",
    "domain_count",
    "domains",
    "mailboxes",
    "mailboxes_ready",
    "mailboxes_cancelled",
    "due_now_usd",
    "per_month_usd",
    "per_year_usd",
]
# A cell starting with one of these is a formula to spreadsheet programs (OWASP "CSV
# injection"); titles and usernames are user input, so such cells get a leading quote.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")

_T = TypeVar("_T")


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _when(moment: datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment).isoformat()


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount)


def _csv_row(order: Order, summary: OrderSummary, workspace_slug: str) -> list[str]:
    quote = order.approved_quote
    return [
        str(order.pk),
        workspace_slug,
        _cell(order.display_name),
        order.order_type,
        order.status,
        _cell(order.requester.get_username()),
        _cell(order.approver.get_username() if order.approver else ""),
        _when(order.created_at),
        _when(order.submitted_at),
        _when(order.decided_at),
        _when(order.placed_at),
        _when(order.ready_at),
        "|".join(summary.provider_labels),
        str(len(summary.domains)),
        _cell(" ".join(summary.domains)),
        str(summary.mailboxes),
        str(summary.ready),
        str(summary.cancelled),
        _money(quote.due_now if quote else None),
        _money(quote.per_month if quote else None),
        _money(quote.per_year if quote else None),
    ]


class _Echo:
    """csv.writer target that hands each formatted line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _chunks(iterable: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def orders_csv_chunks(
    queryset: QuerySet[Order], *, chunk_size: int = CSV_CHUNK_SIZE
) -> Iterator[str]:
    """The CSV of `queryset` (ordering kept), header first, as text chunks of `chunk_size`
    orders. Never holds more than one chunk: the orders come from a server-side cursor
    (`iterator`), and each chunk's items from one grouped query."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    orders = (
        queryset.select_related("workspace", "requester", "approver", "approved_quote")
        .only(*ROW_FIELDS, "workspace__slug")
        .iterator(chunk_size=chunk_size)
    )
    for chunk in _chunks(orders, chunk_size):
        summaries = order_summaries([order.pk for order in chunk])
        yield "".join(
            writer.writerow(
                _csv_row(
                    order,
                    summaries.get(order.pk) or OrderSummary(),
                    order.workspace.slug,
                )
            )
            for order in chunk
        )
