"""Quotes: Instantly's simulation of exactly the current draft, frozen as an immutable row."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

from orders import instantly
from orders.asynchronous_commit import insert_committing_asynchronously
from orders.models import Order, OrderItem, Quote
from orders.payload import fingerprint, order_payload
from orders.rules import DraftItem

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
# What the cache backends raise when their store does not answer (Redis, or the files).
CACHE_ERRORS: Final = (RedisError, OSError)


class QuoteUnavailable(Exception):
    """No quote right now. `retry` says whether asking again soon may help (429, timeout)
    or whether a person must act first (`fix_key`: invalid key, scope or plan)."""

    def __init__(self, message: str, *, retry: bool, fix_key: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.fix_key = fix_key


@dataclass(frozen=True)
class QuoteOutcome:
    quote: Quote
    result: instantly.OrderResult
    reused: bool


def quote_for_order(
    *,
    order: Order,
    client: instantly.InstantlyClient,
    reuse_seconds: int | None = None,
    items: Sequence[OrderItem] | Sequence[DraftItem] | None = None,
) -> QuoteOutcome:
    """Price the order's current payload with simulation mode and store the quote.

    Never called inside a transaction (it does HTTP). Reuses a recent quote of the same
    fingerprint. Raises QuoteUnavailable for remote trouble; never spends money.
    """
    if reuse_seconds is None:
        # An identical payload reuses its quote this long instead of asking Instantly again.
        reuse_seconds = settings.DFY_QUOTE_REUSE_SECONDS
    payload = order_payload(order, items)
    if not payload["items"]:
        raise QuoteUnavailable("Add a domain to get a quote.", retry=False)
    digest = fingerprint(payload)
    recent = _reusable(order, digest, reuse_seconds)
    if recent is not None:
        return QuoteOutcome(
            quote=recent,
            result=instantly.parse_order_result(recent.response_body),
            reused=True,
        )
    try:
        result = client.simulate_order(payload)
    except instantly.RateLimited as exc:
        raise QuoteUnavailable(
            "Quote delayed: Instantly asked us to slow down.", retry=True
        ) from exc
    except instantly.InstantlyTransientError as exc:
        raise QuoteUnavailable(
            "Quote delayed: Instantly did not answer in time.", retry=True
        ) from exc
    except instantly.InstantlyScopeError as exc:
        raise QuoteUnavailable(
            instantly.FORBIDDEN_HINT, retry=False, fix_key=True
        ) from exc
    except (instantly.InstantlyAuthError, instantly.InstantlyPlanError) as exc:
        raise QuoteUnavailable(str(exc), retry=False, fix_key=True) from exc
    except instantly.InstantlyError as exc:
        raise QuoteUnavailable(
            f"Instantly refused the quote request: {exc}", retry=False
        ) from exc
    # A quote is a re-askable simulation: its commit does not wait for the disk (see there).
    quote = quote_store(
        order=order,
        payload=payload,
        digest=digest,
        result=result,
        asynchronous_commit=True,
    )
    _reuse_hint_set(
        order, digest, quote, max(reuse_seconds, settings.DFY_QUOTE_REUSE_SECONDS)
    )
    return QuoteOutcome(quote=quote, result=result, reused=False)


# Which quote may be reused for an order's payload is remembered in the cache for the reuse
# window, so that the common case on every keystroke (a payload never quoted before) costs a
# cache read instead of a query (docs/performance.md, "Quote overhead"). The hint is only a
# pointer: the quote it names is read back and must still match the order, the fingerprint
# and the window. Without a hint the draft is priced again, which is always correct.
def _reuse_hint_key(order: Order, digest: str) -> str:
    return f"dfy:quote-reuse:{order.pk}:{digest}"


def _reusable(order: Order, digest: str, reuse_seconds: int) -> Quote | None:
    if reuse_seconds <= 0:
        return None
    try:
        hinted = cache.get(_reuse_hint_key(order, digest))
    except CACHE_ERRORS:  # a cache outage only costs the reuse
        logger.warning("quote reuse: the cache did not answer; pricing again")
        return None
    if hinted is None:
        return None
    since = timezone.now() - timedelta(seconds=reuse_seconds)
    return order.quotes.filter(
        pk=hinted, fingerprint=digest, created_at__gte=since
    ).first()


def _reuse_hint_set(order: Order, digest: str, quote: Quote, seconds: int) -> None:
    if seconds <= 0:
        return
    try:
        cache.set(_reuse_hint_key(order, digest), quote.pk, timeout=seconds)
    except CACHE_ERRORS:  # a cache outage only costs the reuse
        logger.warning("quote reuse: the cache did not answer; nothing remembered")


def cents(amount: Decimal | None) -> Decimal:
    """Money as stored: two places. Instantly prices in whole cents, so nothing is lost."""
    return (amount or Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)


def quote_store(
    *,
    order: Order,
    payload: dict[str, object],
    digest: str,
    result: instantly.OrderResult,
    asynchronous_commit: bool = False,
) -> Quote:
    """Store the simulation `result` of `payload`. `asynchronous_commit`: on PostgreSQL, outside
    a transaction, the INSERT returns without waiting for its flush to disk
    (orders/asynchronous_commit.py says when that is safe); inside a transaction it never is."""
    quote = Quote(
        order=order,
        payload=payload,
        fingerprint=digest,
        response_body=result.raw_body,
        due_now=cents(result.total_price),
        per_month=cents(result.total_price_per_month),
        per_year=cents(result.total_price_per_year),
        discount=cents(result.total_discount),
        is_valid=result.order_is_valid,
        order_error=result.order_error or "",
    )
    if asynchronous_commit:
        insert_committing_asynchronously(quote)
    else:
        quote.save(force_insert=True)
    return quote


def current_quote(
    order: Order, items: Iterable[OrderItem] | None = None
) -> Quote | None:
    """The newest quote if it priced exactly the order's current payload, else None. Pass the
    order's items (mailboxes prefetched) when already loaded."""
    latest = order.quotes.first()
    if latest is None or latest.fingerprint != fingerprint(order_payload(order, items)):
        return None
    return latest
