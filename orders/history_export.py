"""The order history as CSV, for the portal's export and the admin's: streamed in chunks from a
server-side cursor, each chunk's items read in one grouped query."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Final, TypeVar

from django.db.models import QuerySet
from django.utils import timezone

from orders.csv_cells import escape_cell
from orders.history_summaries import OrderSummary, order_summaries
from orders.models import Order

# Orders per server-side cursor fetch in the export; each chunk also costs one grouped query
# over its items, so 500 keeps both the memory (a few MB) and the query count small.
CSV_CHUNK_SIZE: Final = 500

# What a CSV line shows of an order and the people and quote joined to it.
CSV_FIELDS: Final = (
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
_T = TypeVar("_T")


def _when(moment: datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment).isoformat()


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount)


def _csv_row(order: Order, summary: OrderSummary, workspace_slug: str) -> list[str]:
    # Titles, usernames and domains are typed by people: escaped (orders.csv_cells).
    quote = order.approved_quote
    return [
        str(order.pk),
        workspace_slug,
        escape_cell(order.display_name),
        order.order_type,
        order.status,
        escape_cell(order.requester.get_username()),
        escape_cell(order.approver.get_username() if order.approver else ""),
        _when(order.created_at),
        _when(order.submitted_at),
        _when(order.decided_at),
        _when(order.placed_at),
        _when(order.ready_at),
        "|".join(summary.provider_labels),
        str(len(summary.domains)),
        escape_cell(" ".join(summary.domains)),
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
        .only(*CSV_FIELDS, "workspace__slug")
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
