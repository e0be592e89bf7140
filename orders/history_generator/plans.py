"""What a generated order will be, drawn before anything is written: its status, type,
domains with their providers and mailbox counts, the people behind the mailboxes, and the
price and canonical body its quote carries. Deterministic for a seeded `random.Random`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from orders.history_generator.vocabulary import (
    FIRST_NAMES,
    LAST_NAMES,
    WORDS_A,
    WORDS_B,
)
from orders.models import OrderStatus, OrderType, Provider

# Instantly's published prices (docs/instantly.md), the sandbox's defaults.
DOMAIN_PER_YEAR: Final = Decimal("15.00")
MAILBOX_PER_MONTH: Final = Decimal("5.00")
PREWARMED_MAILBOX_PER_MONTH: Final = Decimal("10.00")
MICROSOFT_PER_DOMAIN_PER_MONTH: Final = Decimal("20.00")
MICROSOFT_MAILBOXES: Final = 50

# Weights of the final status of a generated order (the demo forces each at least once).
STATUS_WEIGHTS: Final = {
    OrderStatus.READY: 57,
    OrderStatus.PARTIALLY_CANCELLED: 5,
    OrderStatus.CANCELLED: 5,
    OrderStatus.PROVISIONING: 5,
    OrderStatus.PLACED: 2,
    OrderStatus.FAILED: 6,
    OrderStatus.REJECTED: 5,
    OrderStatus.DRAFT: 5,
    OrderStatus.PENDING_APPROVAL: 4,
    OrderStatus.NEEDS_REAPPROVAL: 1.5,
    OrderStatus.APPROVED: 1,
    OrderStatus.SUBMITTING: 0.5,
    OrderStatus.UNKNOWN: 1,
    OrderStatus.NEEDS_ATTENTION: 2,
}
# Statuses an order is still moving through: such orders are recent.
RECENT_STATUSES: Final = frozenset(
    {
        OrderStatus.DRAFT,
        OrderStatus.PENDING_APPROVAL,
        OrderStatus.APPROVED,
        OrderStatus.NEEDS_REAPPROVAL,
        OrderStatus.SUBMITTING,
        OrderStatus.UNKNOWN,
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
    }
)
SUBMITTED: Final = frozenset(set(OrderStatus) - {OrderStatus.DRAFT})
DECIDED: Final = frozenset(SUBMITTED - {OrderStatus.PENDING_APPROVAL})
APPROVED: Final = frozenset(DECIDED - {OrderStatus.REJECTED})
ATTEMPTED: Final = frozenset(
    APPROVED - {OrderStatus.APPROVED, OrderStatus.NEEDS_REAPPROVAL}
)
PLACED: Final = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
        OrderStatus.READY,
        OrderStatus.PARTIALLY_CANCELLED,
        OrderStatus.CANCELLED,
    }
)
# Median hours from placed to every mailbox ready, per provider.
READY_HOURS: Final = {Provider.GOOGLE: 8, Provider.AIRMAIL: 4, Provider.MICROSOFT: 36}


@dataclass
class ItemPlan:
    domain: str
    provider: int
    mailboxes: int
    # (first name, last name, prefix) per mailbox, drawn once the counts are final.
    people: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class OrderPlan:
    index: int
    status: str
    order_type: str
    created_at: datetime
    items: list[ItemPlan] = field(default_factory=list)


class Names:
    """Unique, readable domain names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def domain(self) -> str:
        tld = self.rng.choice(("com", "com", "com", "org"))
        base = f"{self.rng.choice(WORDS_A)}{self.rng.choice(WORDS_B)}"
        name = f"{base}.{tld}"
        n = 1
        while name in self.used:
            n += 1
            name = f"{base}{n}.{tld}"
        self.used.add(name)
        return name


def pick_status(rng: random.Random) -> str:
    statuses = list(STATUS_WEIGHTS)
    return str(rng.choices(statuses, weights=list(STATUS_WEIGHTS.values()))[0])


def plan_items(rng: random.Random, names: Names, order_type: str) -> list[ItemPlan]:
    if order_type == OrderType.EXTRA_ACCOUNTS:
        # Microsoft domains cannot take extra mailboxes; these top up owned domains.
        provider = rng.choice((Provider.GOOGLE, Provider.AIRMAIL))
        return [
            ItemPlan(names.domain(), provider, rng.randint(1, 3))
            for _ in range(rng.randint(1, 4))
        ]
    roll = rng.random()
    if roll < 0.45:
        providers = [Provider.GOOGLE]
    elif roll < 0.78:
        providers = [Provider.AIRMAIL]
    elif roll < 0.92:
        providers = [Provider.MICROSOFT]
    else:
        providers = [
            Provider.GOOGLE,
            rng.choice((Provider.AIRMAIL, Provider.MICROSOFT)),
        ]
    items = []
    for provider in providers:
        if provider == Provider.MICROSOFT:
            count = 1 if rng.random() < 0.8 else 2
            items += [
                ItemPlan(names.domain(), provider, MICROSOFT_MAILBOXES)
                for _ in range(count)
            ]
        else:
            items += [
                ItemPlan(names.domain(), provider, rng.choice((2, 3, 3, 4, 5, 5)))
                for _ in range(rng.randint(1, 6))
            ]
    return items


def fit_mailboxes(rng: random.Random, plans: list[OrderPlan], target: int) -> None:
    """Nudge per-domain mailbox counts of Google/AirMail items (within 1..5) so the total is
    exactly `target` where that is reachable."""
    adjustable = [
        item
        for plan in plans
        for item in plan.items
        if item.provider != Provider.MICROSOFT
    ]
    total = sum(item.mailboxes for plan in plans for item in plan.items)
    tries = 0
    while total != target and adjustable and tries < 50 * len(adjustable):
        tries += 1
        item = rng.choice(adjustable)
        if total < target and item.mailboxes < 5:
            item.mailboxes += 1
            total += 1
        elif total > target and item.mailboxes > 1:
            item.mailboxes -= 1
            total -= 1


def plan_price(
    order_type: str, items: Sequence[ItemPlan]
) -> tuple[Decimal, Decimal, list[dict[str, Any]]]:
    """(per month, per year, priced items) as the simulation answers them."""
    per_month = per_year = Decimal("0.00")
    priced = []
    for item in items:
        domain_price = (
            Decimal("0.00")
            if order_type == OrderType.EXTRA_ACCOUNTS
            else DOMAIN_PER_YEAR
        )
        if item.provider == Provider.MICROSOFT:
            accounts_price = MICROSOFT_PER_DOMAIN_PER_MONTH
        elif order_type == OrderType.PRE_WARMED_UP:
            accounts_price = PREWARMED_MAILBOX_PER_MONTH * item.mailboxes
        else:
            accounts_price = MAILBOX_PER_MONTH * item.mailboxes
        per_month += accounts_price
        per_year += domain_price
        priced.append(
            {
                "domain": item.domain,
                "email_provider": item.provider,
                "domain_price": json_number(domain_price),
                "accounts_price": json_number(accounts_price),
                "domain_monthly_price": json_number(MICROSOFT_PER_DOMAIN_PER_MONTH)
                if item.provider == Provider.MICROSOFT
                else None,
                "total_price": json_number(domain_price + accounts_price),
                "total_discount": 0,
            }
        )
    return per_month, per_year, priced


def json_number(amount: Decimal) -> int | str:
    # JSON numbers without float: whole dollars as ints, anything else as exact text.
    return int(amount) if amount == amount.to_integral_value() else str(amount)


def draw_people(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """`count` persons with distinct mailbox names (first, last, prefix)."""
    chosen: list[tuple[str, str, str]] = []
    used: set[str] = set()
    styles = ("{f}", "{f}.{l}", "{f}{l0}", "{f0}.{l}", "{f}_{l}")
    while len(chosen) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        prefix = rng.choice(styles).format(f=first, l=last, f0=first[0], l0=last[0])
        if prefix in used:
            prefix = f"{first}.{last}{len(chosen) + 1}"
        used.add(prefix)
        chosen.append((first.capitalize(), last.capitalize(), prefix))
    return chosen


def canonical_payload(plan: OrderPlan) -> dict[str, Any]:
    """The canonical body, exactly as `orders.payload.order_payload` builds it from the rows
    the generator writes, so the quote's fingerprint matches the stored order."""
    items = []
    for item in plan.items:
        body: dict[str, Any] = {"domain": item.domain, "email_provider": item.provider}
        if plan.order_type != OrderType.PRE_WARMED_UP:
            body["accounts"] = [
                {"email_address_prefix": prefix, "first_name": first, "last_name": last}
                for first, last, prefix in item.people
            ]
        items.append(body)
    return {"order_type": plan.order_type, "items": items}
