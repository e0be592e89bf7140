"""Parsing the order builder's one big form.

The builder posts every domain row and mailbox row with indexed names
(`item-3-domain`, `item-3-mb-0-prefix`, ...). Parsing keeps whatever the user typed: values
that the database cannot hold (too long, unknown provider) become errors naming the row, and
the page is shown again with the typed values; everything else is saved as typed and judged by
the local rules and Instantly's simulation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.http import QueryDict

from orders.models import OrderType, Provider
from orders.rules import DraftItem, DraftMailbox

MAX_ITEMS = 500
MAX_MAILBOXES_PER_ITEM = 100
LIMITS = {
    "domain": 253,
    "forwarding_domain": 253,
    "first_name": 100,
    "last_name": 100,
    "email_prefix": 64,
}

ITEM_KEY = re.compile(r"^item-(\d{1,4})-domain$")
MAILBOX_KEY = re.compile(r"^item-(\d{1,4})-mb-(\d{1,4})-first$")


@dataclass
class BuilderPost:
    items: list[DraftItem]
    order_type: str
    title: str
    version: int | None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(data: QueryDict, key: str) -> str:
    return str(data.get(key, "")).strip()


def _limit(value: str, name: str, where: str, errors: list[str]) -> str:
    if len(value) > LIMITS[name]:
        errors.append(
            f"{where}: {name.replace('_', ' ')} is longer than {LIMITS[name]} characters."
        )
    return value


def parse_builder_post(data: QueryDict) -> BuilderPost:
    errors: list[str] = []
    order_type = _text(data, "order_type") or OrderType.DFY
    if order_type not in OrderType.values:
        errors.append(
            f"Order type {order_type!r} is not one of {', '.join(OrderType.values)}."
        )
        order_type = OrderType.DFY
    try:
        version: int | None = int(_text(data, "version"))
    except ValueError:
        version = None
        errors.append("The form lost its version number; reload the page.")
    item_indexes = sorted(int(m.group(1)) for key in data if (m := ITEM_KEY.match(key)))
    if len(item_indexes) > MAX_ITEMS:
        errors.append(
            f"An order can hold at most {MAX_ITEMS} domains; this one has {len(item_indexes)}."
        )
        item_indexes = item_indexes[:MAX_ITEMS]
    mailbox_indexes: dict[int, list[int]] = {}
    for key in data:
        if m := MAILBOX_KEY.match(key):
            mailbox_indexes.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    items = []
    for number, index in enumerate(item_indexes, start=1):
        prefix = f"item-{index}-"
        domain = _limit(
            _text(data, prefix + "domain").lower(),
            "domain",
            f"Domain row {number}",
            errors,
        )
        where = f"Domain row {number} ({domain or 'empty'})"
        raw_provider = _text(data, prefix + "provider") or str(Provider.GOOGLE.value)
        try:
            provider = Provider(int(raw_provider))
        except ValueError:
            errors.append(
                f"{where}: provider {raw_provider!r} is not Google, AirMail or Microsoft."
            )
            provider = Provider.GOOGLE
        forwarding = _limit(
            _text(data, prefix + "forwarding").lower(),
            "forwarding_domain",
            where,
            errors,
        )
        rows = sorted(mailbox_indexes.get(index, []))
        if len(rows) > MAX_MAILBOXES_PER_ITEM:
            errors.append(
                f"{where}: at most {MAX_MAILBOXES_PER_ITEM} mailboxes per domain."
            )
            rows = rows[:MAX_MAILBOXES_PER_ITEM]
        mailboxes = []
        for row_number, row in enumerate(rows, start=1):
            mb = f"{prefix}mb-{row}-"
            row_where = f"{where}, mailbox {row_number}"
            mailboxes.append(
                DraftMailbox(
                    first_name=_limit(
                        _text(data, mb + "first"), "first_name", row_where, errors
                    ),
                    last_name=_limit(
                        _text(data, mb + "last"), "last_name", row_where, errors
                    ),
                    email_prefix=_limit(
                        _text(data, mb + "prefix").lower(),
                        "email_prefix",
                        row_where,
                        errors,
                    ),
                )
            )
        items.append(
            DraftItem(
                domain=domain,
                provider=int(provider),
                forwarding_domain=forwarding,
                mailboxes=tuple(mailboxes),
            )
        )
    return BuilderPost(
        items=items,
        order_type=order_type,
        title=_text(data, "title")[:120],
        version=version,
        errors=errors,
    )
