"""The history page's table (presentation): each order of a page as a row of text cells."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from django.urls import reverse
from django.utils import timezone

from orders.history_summaries import OrderSummary, order_summaries
from orders.models import Order, OrderType

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
