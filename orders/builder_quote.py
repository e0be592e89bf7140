"""The builder's quote panel: a fresh quote of the saved draft (asked of Instantly and
stored), the stored one, or why there is none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orders import instantly, instantly_keys, quotes
from orders.models import Order, OrderItem
from orders.rules import DraftItem


@dataclass
class QuoteView:
    """The quote panel: a fresh or reused quote, or why there is none."""

    quote: Any = None
    result: instantly.OrderResult | None = None
    reused: bool = False
    problem: str = ""
    retry: bool = False
    fix_key: bool = False


def quote_now(
    order: Order, items: Sequence[OrderItem] | Sequence[DraftItem] | None = None
) -> QuoteView:
    """Ask for a quote of the saved draft; trouble becomes a message, never an exception.
    `items` (prefetched with their mailboxes, or `drafts.draft_read`) saves reading the
    draft again."""
    try:
        client = instantly_keys.instantly_client_for(workspace=order.workspace)
    except instantly_keys.InstantlyKeyMissing as exc:
        return QuoteView(problem=exc.problem, fix_key=True)
    try:
        with client:
            outcome = quotes.quote_for_order(order=order, client=client, items=items)
    except quotes.QuoteUnavailable as exc:
        return QuoteView(problem=str(exc), retry=exc.retry, fix_key=exc.fix_key)
    return QuoteView(quote=outcome.quote, result=outcome.result, reused=outcome.reused)


def stored_quote(order: Order, rows: Sequence[OrderItem] | None = None) -> QuoteView:
    quote = quotes.current_quote(order, rows)
    if quote is None:
        return QuoteView()
    return QuoteView(
        quote=quote,
        result=instantly.parse_order_result(quote.response_body),
        reused=True,
    )
