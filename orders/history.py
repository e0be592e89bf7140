"""The order history's queries: filters, search and sorting, shared by portal and admin. What
the page shows is `history_table`, the CSV export `history_export`, the item summaries both
read `history_summaries`.

Everything starts from a workspace-scoped queryset (`Order.objects.in_workspace`); the admin
passes its own queryset (all workspaces) to `orders_search` and `orders_csv_chunks`.

Query shape, kept fixed whatever the page size: one COUNT, one page of orders (requester,
approver and approved quote joined), one grouped query over the page's items for domains,
providers and mailbox counts. The CSV export walks the filtered set with a server-side
cursor in chunks and runs the same grouped query once per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Final, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import F, OrderBy, OuterRef, Q, QuerySet, Subquery
from django.db.models.constants import LOOKUP_SEP
from django.utils import timezone

from orders.history_table import TABLE_FIELDS
from orders.lifecycle import BOUGHT_STATUSES
from orders.models import (
    IN_FLIGHT_STATUSES,
    Mailbox,
    Membership,
    Order,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
    Workspace,
)
from orders.spend import attention_q

PER_PAGE_CHOICES: Final = (25, 50, 100, 200)
DEFAULT_PER_PAGE: Final = 50


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
    # The approved quote's figures as copied on the order (indexed both ways).
    "due_now": SortKey("Due now", "approved_due_now", nullable=True),
    "monthly": SortKey("Monthly", "approved_per_month", nullable=True),
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
        return Q(status__in=BOUGHT_STATUSES)
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
    orders are still in the history. One query whose cost follows the number of users, not
    of orders: whether a user ever requested (approved) here is their first such order by
    date, one step into the (workspace, requester, created_at) index, which PostgreSQL takes
    whatever its statistics say. Not EXISTS: expecting every user to have many orders, it
    answers EXISTS by scanning the table, in full for each user who has none; nor a list of
    the workspace's requesters, an index entry or a row per order."""
    user_model = get_user_model()
    orders = Order.objects.in_workspace(workspace)
    people = (
        user_model.objects.alias(
            first_requested=_first_order(orders.filter(requester=OuterRef("pk"))),
            first_approved=_first_order(orders.filter(approver=OuterRef("pk"))),
        )
        .filter(
            Q(pk__in=Membership.objects.filter(workspace=workspace).values("user_id"))
            | Q(first_requested__isnull=False)
            | Q(first_approved__isnull=False)
        )
        .order_by("username")
        .values_list("pk", "username")
    )
    return list(people)


def _first_order(orders: QuerySet[Order]) -> Subquery:
    return Subquery(orders.order_by("created_at").values("pk")[:1])


def orders_search(queryset: QuerySet[Order], term: str) -> QuerySet[Order]:
    """Orders whose title or a domain contains `term`, or, when `term` has an "@", a mailbox with
    that address: "jane@acme.com" exactly (case-insensitive), "jane@" every mailbox named
    jane, "@acme" mailboxes on domains starting with acme.

    Mailbox names are searched only with an "@": a bare word would scan every mailbox
    (200,000 in the benchmark) on each keystroke, and domains are what people type.
    """
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(pk__in=orders_matching(term))


def orders_matching(term: str) -> QuerySet[Any]:
    """The ids of the orders, in every workspace, that a non-empty search term finds (see
    `orders_search`), as one subquery for `pk__in`.

    Each way of matching is its own SELECT, answered by an index on PostgreSQL (trigrams
    over titles and domains, migration 0014), and they are joined by UNION: the planner then
    expects the few rows that match and reads just those. An OR of two `IN (subquery)` tests
    is instead guessed to keep most orders, and planned for them: every order read, joined
    and sorted before the page's few are kept.
    """
    if "@" not in term:
        titled = Order.objects.filter(title__icontains=term).order_by().values("pk")
        on_domains = (
            OrderItem.objects.filter(domain__icontains=term)
            .order_by()
            .values("order_id")
        )
        return titled.union(on_domains)
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
    return mailboxes.order_by().values("item__order_id")


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
    """The workspace's orders, filtered and sorted, loading only what a history row shows
    (the CSV export loads what it shows: `orders_csv_chunks`)."""
    return (
        orders_filter(Order.objects.in_workspace(workspace), filters)
        .select_related("requester", "approver", "approved_quote")
        .only(*TABLE_FIELDS)
    )


class IdsFirstPaginator(Paginator[Order]):
    """Django's paginator over a queryset of orders that reads a page ids first when reading
    it directly would make the database join rows only to skip them: a subquery picks the
    page's ids by the filters and the sort alone, and only those rows are joined to what
    the page shows. That is every page after the first (a deep page's offset otherwise
    joins every order before it to its people and quote; ids first, the default sort's are
    a walk of the (workspace, -created_at, -id) index), and the first page of a sort
    through a join (the requester's name, the quote's price: otherwise every order is
    joined, wide, before the sort keeps the page). The first page of the orders' own sort
    skips nothing and stops early on the index, so it is read directly. Still one query per
    page; the count is Django's."""

    def page(self, number: int | str) -> Page[Order]:
        page = super().page(number)
        orders = cast("QuerySet[Order]", self.object_list)
        if page.number > 1 or _sorted_through_a_join(orders):
            page_ids = cast("QuerySet[Order]", page.object_list).values("pk")
            # The filters run again on the page's ids, which on PostgreSQL costs little:
            # each is answered by an index.
            page.object_list = orders.filter(pk__in=page_ids)
        return page


def _sorted_through_a_join(orders: QuerySet[Order]) -> bool:
    """Whether the sort reads another table: "approved_quote__due_now" (the admin's
    ordering names) or F("approved_quote__due_now") (this module's `sort_ordering`)."""
    for key in orders.query.order_by:
        expression = getattr(key, "expression", key)
        name = (
            expression
            if isinstance(expression, str)
            else getattr(expression, "name", "")
        )
        if LOOKUP_SEP in name:
            return True
    return False
