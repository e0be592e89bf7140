"""The history page's table (presentation): each order of a page as a row of text cells."""

from __future__ import annotations

import html
from collections.abc import Sequence
from decimal import Decimal
from typing import Final, TypedDict

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from orders.history_summaries import OrderSummary, order_summaries
from orders.models import Order, OrderHealth, OrderStatus, OrderType

# Table-width labels; the full ones (OrderType.label) are in the filter and the detail page.
# Keyed by the stored value, which a row looks up as it is, without making an OrderType.
TYPE_SHORT: Final[dict[str, str]] = {
    OrderType.DFY: "New domains",
    OrderType.PRE_WARMED_UP: "Pre-warmed",
    OrderType.EXTRA_ACCOUNTS: "Extra mailboxes",
}


# What the table shows of an order and the people and quote joined to it.
TABLE_FIELDS: Final = (
    "pk",
    "title",
    "order_type",
    "status",
    "health",
    "created_at",
    "requester__username",
    "approver__username",
    "approved_quote__due_now",
    "approved_quote__per_month",
)


EMPTY: Final = SafeString("")


def money_text(amount: Decimal | None) -> str:
    return "—" if amount is None else f"${amount:,.2f}"


class HistoryRow(TypedDict):
    """One table row, every cell already HTML: a page can hold 200 rows, 4,000 cells, and
    what the template does to a cell costs more than the page's queries once they are
    indexed. So the template only prints them: no filters (floatformat, date, url), no
    integers (it localizes each, about 10 µs) and no plain strings (it escapes each, a few
    µs): every cell is escaped here, once, by `_html`. A count the row shows only when there
    is one is empty when zero. A dict, because the template tries `row["pk"]` before
    `row.pk`, and an object answers the first with an exception, cell after cell."""

    pk: SafeString
    url: SafeString
    title: SafeString
    # Untitled orders carry their number in the name ("Untitled order #318").
    titled: bool
    type_label: SafeString
    status: SafeString
    status_label: SafeString
    # The health badge at Instantly, whole (empty until the health poll read the order).
    health: SafeString
    # "1 burned" when domains of the order were marked burned; empty otherwise.
    burned: SafeString
    providers: SafeString
    first_domain: SafeString
    more_domains: SafeString
    mailboxes: SafeString
    ready: SafeString
    requester: SafeString
    approver: SafeString
    due_now: SafeString
    monthly: SafeString
    created_date: SafeString
    created_full: SafeString
    created_iso: SafeString


def _html(text: str) -> SafeString:
    """`text` escaped for HTML as Django's `escape` does, without its lazy-string check."""
    return SafeString(html.escape(text))


def _count_html(count: int) -> SafeString:
    return _html(str(count) if count else "")


def history_rows(orders: Sequence[Order], *, workspace_slug: str) -> list[HistoryRow]:
    """One page's rows with their item summaries: one grouped query."""
    summaries = order_summaries([order.pk for order in orders])
    # Looked up once per page, not once per row: each is a translation or a time-zone lookup
    # in request-local state.
    status_labels = {value: str(label) for value, label in OrderStatus.choices}
    health_badges = {
        value: SafeString(
            f'<span class="badge health-{html.escape(value)}">{html.escape(str(label))}</span>'
        )
        for value, label in OrderHealth.choices
        if value
    }
    tz = timezone.get_current_timezone()
    # The order page URL differs only by the id: reverse once, not once per row.
    marker = 999_999_999
    url = reverse("orders:detail", kwargs={"slug": workspace_slug, "pk": marker})
    prefix, _, suffix = url.partition(str(marker))
    rows = []
    for order in orders:
        summary = summaries.get(order.pk) or OrderSummary()
        quote = order.approved_quote
        created = order.created_at.astimezone(tz)
        rows.append(
            HistoryRow(
                pk=_html(str(order.pk)),
                url=_html(f"{prefix}{order.pk}{suffix}"),
                title=_html(order.display_name),
                titled=bool(order.title.strip()),
                type_label=_html(TYPE_SHORT.get(order.order_type, order.order_type)),
                status=_html(order.status),
                status_label=_html(status_labels.get(order.status, order.status)),
                health=health_badges.get(order.health, EMPTY)
                if order.status != OrderStatus.CANCELLED
                else EMPTY,
                burned=SafeString(
                    f'<span class="badge burned-badge">{summary.burned} burned</span>'
                )
                if summary.burned
                else EMPTY,
                providers=_html(", ".join(summary.provider_labels)),
                first_domain=_html(summary.first_domain),
                more_domains=_count_html(summary.more_domains),
                mailboxes=_html(str(summary.mailboxes)),
                ready=_count_html(summary.ready),
                requester=_html(order.requester.get_username()),
                approver=_html(
                    order.approver.get_username() if order.approver else "—"
                ),
                due_now=_html(money_text(quote.due_now if quote else None)),
                monthly=_html(money_text(quote.per_month if quote else None)),
                created_date=_html(f"{created:%Y-%m-%d}"),
                created_full=_html(f"{created:%Y-%m-%d %H:%M}"),
                created_iso=_html(created.isoformat()),
            )
        )
    return rows
