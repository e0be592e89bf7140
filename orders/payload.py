"""The canonical order payload and its fingerprint.

A quote is bound to the exact body it priced (docs/architecture.md, safety rule 1): the same draft always yields
the same bytes, so equal fingerprints mean Instantly was asked about exactly this order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from orders.models import Order, OrderItem, OrderType
from orders.rules import DraftItem


def item_payload(item: OrderItem | DraftItem, order_type: str) -> dict[str, Any]:
    """One item's body, from a stored item (mailboxes prefetched) or the builder's read of
    it (`drafts.draft_read`): both give the same bytes, hence the same fingerprint."""
    mailboxes = item.mailboxes if isinstance(item, DraftItem) else item.mailboxes.all()
    body: dict[str, Any] = {"domain": item.domain, "email_provider": item.provider}
    if item.forwarding_domain:
        body["forwarding_domain"] = item.forwarding_domain
    # Pre-warmed domains come with their mailboxes; Instantly ignores accounts for them.
    if order_type != OrderType.PRE_WARMED_UP:
        body["accounts"] = [
            {
                "email_address_prefix": m.email_prefix,
                "first_name": m.first_name,
                "last_name": m.last_name,
            }
            for m in mailboxes
        ]
    return body


def order_payload(
    order: Order, items: Iterable[OrderItem] | Iterable[DraftItem] | None = None
) -> dict[str, Any]:
    """The request body for Instantly, without the `simulation` flag (the client adds it).

    Pass `items` already read (stored items with their mailboxes prefetched, or the draft's
    `DraftItem`s) to keep this to no extra queries.
    """
    if items is None:
        items = order.items.prefetch_related("mailboxes")
    return {
        "order_type": order.order_type,
        "items": [item_payload(i, order.order_type) for i in items],
    }


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()
