"""Generate a believable order history in bulk: orders in every state and provider, with items,
mailboxes, quotes (Decimal prices as Instantly quotes them) and the event timeline.

Used by `seed_history` (a few hundred orders for the demo) and by the history benchmark
(10,000 orders / 200,000 mailboxes on PostgreSQL). Everything is deterministic for a seed
and written with bulk_create, so 200,000 mailboxes take seconds, not minutes.

    manage.py generate_orders --workspace bench --orders 10000 --mailboxes 200000
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.utils import timezone

from orders.models import (
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
    Quote,
    Role,
    Workspace,
)
from orders.payload import fingerprint

# Instantly's published prices (docs/instantly.md), the sandbox's defaults.
DOMAIN_PER_YEAR: Final = Decimal("15.00")
MAILBOX_PER_MONTH: Final = Decimal("5.00")
PREWARMED_MAILBOX_PER_MONTH: Final = Decimal("10.00")
MICROSOFT_PER_DOMAIN_PER_MONTH: Final = Decimal("20.00")
MICROSOFT_MAILBOXES: Final = 50
# Rows per INSERT: large enough to be fast, small enough for SQLite's parameter limit.
BULK_BATCH: Final = 1000
SEED_NAMESPACE: Final = uuid.UUID("6f1d8f3e-7d55-4c1a-9a55-0c5e2b7f4d21")

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

WORDS_A: Final = [
    "bright",
    "acme",
    "north",
    "blue",
    "swift",
    "prime",
    "summit",
    "clear",
    "true",
    "peak",
    "bold",
    "keen",
    "nova",
    "apex",
    "vivid",
    "solid",
    "cedar",
    "maple",
    "river",
    "harbor",
    "silver",
    "golden",
    "iron",
    "urban",
]
WORDS_B: Final = [
    "leads",
    "reach",
    "mail",
    "outreach",
    "growth",
    "sales",
    "pipeline",
    "signal",
    "connect",
    "works",
    "labs",
    "partners",
    "hq",
    "team",
    "desk",
    "flow",
    "point",
    "bridge",
    "launch",
    "metrics",
]
FIRST_NAMES: Final = [
    "anna",
    "ben",
    "carla",
    "david",
    "emma",
    "felix",
    "grace",
    "henry",
    "iris",
    "jack",
    "lena",
    "mark",
    "nina",
    "oscar",
    "paula",
    "quinn",
    "rosa",
    "sam",
    "tara",
    "victor",
    "wendy",
    "yara",
    "zoe",
    "liam",
    "mia",
    "noah",
]
LAST_NAMES: Final = [
    "adams",
    "baker",
    "clark",
    "davis",
    "evans",
    "fisher",
    "green",
    "harris",
    "irving",
    "jones",
    "king",
    "lewis",
    "miller",
    "nelson",
    "owens",
    "parker",
    "reed",
    "smith",
    "turner",
    "walker",
    "young",
]
TITLES: Final = (
    "Q{q} outbound",
    "{month} campaign",
    "New market test",
    "Agency client onboarding",
    "Warm-up refresh",
    "Sales team expansion",
    "Cold outreach batch {n}",
    "Partner program",
    "",
)
REFUSALS: Final = (
    ("payment_failed", "Your card was declined."),
    ("domains_unavailable", "Some domains are no longer available."),
    ("provider_unavailable", "Microsoft cannot be ordered right now."),
)


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


@dataclass(frozen=True)
class GenerateResult:
    orders: int
    items: int
    mailboxes: int
    quotes: int
    events: int


def attempt_id(workspace: Workspace, seed: int, index: int) -> uuid.UUID:
    """The deterministic attempt id of the generated order `index`: lets a seeder recognise
    its own earlier run."""
    return uuid.uuid5(SEED_NAMESPACE, f"{workspace.slug}:{seed}:{index}")


@contextmanager
def explicit_timestamps() -> Iterator[None]:
    """Let bulk_create store the generated created/updated times instead of "now".

    auto_now(_add) fields overwrite whatever the instance holds in pre_save; a history needs
    the past. Switched off only for the duration of the generation, then restored.
    """
    fields: list[tuple[models.DateTimeField[Any, Any], bool, bool]] = []
    for model in (Order, Quote, OrderEvent):
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                fields.append((f, f.auto_now, f.auto_now_add))
    try:
        for f, _, _ in fields:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, auto_now, auto_now_add in fields:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


class _Names:
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


def _pick_status(rng: random.Random) -> str:
    statuses = list(STATUS_WEIGHTS)
    return str(rng.choices(statuses, weights=list(STATUS_WEIGHTS.values()))[0])


def _plan_items(rng: random.Random, names: _Names, order_type: str) -> list[ItemPlan]:
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


def _fit_mailboxes(rng: random.Random, plans: list[OrderPlan], target: int) -> None:
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


def _price(
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
                "domain_price": _number(domain_price),
                "accounts_price": _number(accounts_price),
                "domain_monthly_price": _number(MICROSOFT_PER_DOMAIN_PER_MONTH)
                if item.provider == Provider.MICROSOFT
                else None,
                "total_price": _number(domain_price + accounts_price),
                "total_discount": 0,
            }
        )
    return per_month, per_year, priced


def _number(amount: Decimal) -> int | str:
    # JSON numbers without float: whole dollars as ints, anything else as exact text.
    return int(amount) if amount == amount.to_integral_value() else str(amount)


class _Generator:
    def __init__(
        self,
        *,
        workspace: Workspace,
        requesters: Sequence[User],
        approvers: Sequence[User],
        now: datetime,
        seed: int,
    ) -> None:
        self.workspace = workspace
        self.requesters = list(requesters)
        self.approvers = list(approvers) or list(requesters)
        self.now = now
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - fake data, reproducible by seed
        self.names = _Names(self.rng)

    def plans(self, count: int, *, every_status: bool) -> list[OrderPlan]:
        rng = self.rng
        statuses = [_pick_status(rng) for _ in range(count)]
        if every_status:
            # Order 0 is READY: its attempt id is the seeder's "already done" marker.
            forced = [OrderStatus.READY] + [
                s for s in OrderStatus if s != OrderStatus.READY
            ]
            statuses[: len(forced)] = forced[:count]
        plans = []
        for index, status in enumerate(statuses):
            order_type = rng.choices(
                (OrderType.DFY, OrderType.PRE_WARMED_UP, OrderType.EXTRA_ACCOUNTS),
                weights=(70, 15, 15),
            )[0]
            if status in RECENT_STATUSES:
                age = timedelta(
                    hours=rng.uniform(
                        0.2, 24 * (30 if status == OrderStatus.DRAFT else 6)
                    )
                )
            else:
                age = timedelta(days=rng.uniform(1, 360))
            plans.append(
                OrderPlan(
                    index=index,
                    status=status,
                    order_type=order_type,
                    created_at=self.now - age,
                    items=_plan_items(rng, self.names, order_type),
                )
            )
        return plans

    def _title(self, created: datetime) -> str:
        template = self.rng.choice(TITLES)
        return template.format(
            q=(created.month - 1) // 3 + 1,
            month=created.strftime("%B"),
            n=self.rng.randint(2, 9),
        )

    def _timeline(self, plan: OrderPlan) -> dict[str, datetime]:
        """Timestamps of each step the order went through, never later than now."""
        rng = self.rng
        t = plan.created_at
        steps: dict[str, datetime] = {"created": t}
        remaining = max(self.now - t, timedelta(minutes=2))
        budget = remaining / 6

        def after(step: timedelta) -> datetime:
            return min(steps_last() + min(step, budget), self.now)

        def steps_last() -> datetime:
            return max(steps.values())

        status = plan.status
        if status in SUBMITTED:
            steps["submitted"] = after(timedelta(minutes=rng.uniform(3, 180)))
        if status in DECIDED:
            steps["decided"] = after(timedelta(minutes=rng.uniform(5, 20 * 60)))
        if status in ATTEMPTED:
            steps["attempt"] = after(timedelta(seconds=rng.uniform(5, 90)))
        if status in PLACED:
            steps["placed"] = after(timedelta(seconds=rng.uniform(2, 20)))
            steps["provisioning"] = after(timedelta(minutes=rng.uniform(5, 40)))
            providers = {item.provider for item in plan.items}
            hours = max(READY_HOURS[Provider(p)] for p in providers)
            took = timedelta(hours=hours * rng.lognormvariate(0, 0.45))
            ready = steps["placed"] + took
            if status != OrderStatus.PROVISIONING and status != OrderStatus.PLACED:
                if ready > self.now:
                    ready = self.now - timedelta(minutes=1)
                steps["ready"] = max(ready, steps["provisioning"])
            if status in (OrderStatus.CANCELLED, OrderStatus.PARTIALLY_CANCELLED):
                start = steps["ready"]
                steps["cancelled"] = start + (self.now - start) * rng.uniform(0.2, 0.9)
        return steps

    def write(self, plans: list[OrderPlan]) -> GenerateResult:
        rng = self.rng
        orders: list[Order] = []
        timelines: list[dict[str, datetime]] = []
        plans = sorted(plans, key=lambda p: p.created_at)
        for plan in plans:
            for item in plan.items:
                item.people = _people(rng, item.mailboxes)
            steps = self._timeline(plan)
            timelines.append(steps)
            requester = rng.choice(self.requesters)
            others = [
                a for a in self.approvers if a.pk != requester.pk
            ] or self.approvers
            decider = rng.choice(others)
            status = plan.status
            order = Order(
                workspace=self.workspace,
                order_type=plan.order_type,
                status=status,
                title=self._title(plan.created_at),
                requester=requester,
                created_at=steps["created"],
                updated_at=max(steps.values()),
                submitted_at=steps.get("submitted"),
                decided_at=steps.get("decided"),
                placed_at=steps.get("placed"),
                provisioning_at=steps.get("provisioning"),
                ready_at=steps.get("ready"),
                last_progress_at=steps.get("provisioning") or steps.get("placed"),
            )
            if status in DECIDED:
                order.decided_by = decider
            if status in APPROVED:
                order.approver = decider
            if status == OrderStatus.REJECTED:
                order.decision_comment = (
                    "Over this month's budget; let's revisit next month."
                )
            if status in ATTEMPTED:
                order.submission_attempt_id = attempt_id(
                    self.workspace, self.seed, plan.index
                )
                order.attempt_started_at = steps["attempt"]
            if status == OrderStatus.FAILED:
                error, message = rng.choice(REFUSALS)
                order.refusal = {"order_error": error, "message": message}
                order.placement_response = json.dumps(
                    {"order_placed": False, "order_error": error}
                )
                order.finished_at = steps["attempt"]
            if status == OrderStatus.UNKNOWN:
                order.reconcile_checks = rng.randint(0, 3)
            if status == OrderStatus.NEEDS_ATTENTION:
                order.reconcile_checks = 6
                order.attention_reason = (
                    "Instantly did not answer the order request, and only part of its "
                    "domains appeared on the list endpoints afterwards."
                )
            if status == OrderStatus.NEEDS_REAPPROVAL:
                order.drift = {"total_price": ["120.00", "135.00"]}
            if status in (OrderStatus.READY, OrderStatus.CANCELLED):
                order.finished_at = steps.get("cancelled") or steps.get("ready")
            orders.append(order)

        with explicit_timestamps():
            Order.objects.bulk_create(orders, batch_size=BULK_BATCH)
            items = self._items(plans, orders)
            mailboxes = self._mailboxes(plans, orders, items, timelines)
            quotes = self._quotes(plans, orders)
            events = self._events(plans, orders, timelines)
        return GenerateResult(
            orders=len(orders),
            items=len(items),
            mailboxes=mailboxes,
            quotes=quotes,
            events=events,
        )

    def _items(self, plans: list[OrderPlan], orders: list[Order]) -> list[OrderItem]:
        items = [
            OrderItem(
                order=order,
                domain=item.domain,
                provider=item.provider,
                position=position,
            )
            for plan, order in zip(plans, orders, strict=True)
            for position, item in enumerate(plan.items)
        ]
        OrderItem.objects.bulk_create(items, batch_size=BULK_BATCH)
        return items

    def _mailboxes(
        self,
        plans: list[OrderPlan],
        orders: list[Order],
        items: list[OrderItem],
        timelines: list[dict[str, datetime]],
    ) -> int:
        rng = self.rng
        written = 0
        batch: list[Mailbox] = []
        item_rows = iter(items)
        for plan, order, steps in zip(plans, orders, timelines, strict=True):
            for item_plan in plan.items:
                item = next(item_rows)
                for position, (first, last, prefix) in enumerate(item_plan.people):
                    mailbox = Mailbox(
                        item=item,
                        email_prefix=prefix,
                        first_name=first,
                        last_name=last,
                        position=position,
                    )
                    _mailbox_state(rng, mailbox, order.status, steps, self.now)
                    batch.append(mailbox)
                if len(batch) >= BULK_BATCH * 5:
                    Mailbox.objects.bulk_create(batch, batch_size=BULK_BATCH)
                    written += len(batch)
                    batch = []
        Mailbox.objects.bulk_create(batch, batch_size=BULK_BATCH)
        return written + len(batch)

    def _quotes(self, plans: list[OrderPlan], orders: list[Order]) -> int:
        quotes: list[Quote] = []
        for plan, order in zip(plans, orders, strict=True):
            per_month, per_year, priced = _price(plan.order_type, plan.items)
            payload = _payload(plan)
            due_now = per_month + per_year
            body = {
                "order_placed": False,
                "order_is_valid": True,
                "simulation": True,
                "number_of_domains_ordered": len(plan.items),
                "number_of_accounts_ordered": sum(i.mailboxes for i in plan.items),
                "total_accounts_price_per_month": _number(per_month),
                "total_domains_price_per_year": _number(per_year),
                "total_price_per_month": _number(per_month),
                "total_price_per_year": _number(per_year),
                "total_price": _number(due_now),
                "total_discount": 0,
                "order_items": priced,
            }
            quotes.append(
                Quote(
                    order=order,
                    payload=payload,
                    fingerprint=fingerprint(payload),
                    response_body=json.dumps(body, separators=(",", ":")),
                    due_now=due_now,
                    per_month=per_month,
                    per_year=per_year,
                    is_valid=True,
                    created_at=order.submitted_at or order.created_at,
                )
            )
        Quote.objects.bulk_create(quotes, batch_size=BULK_BATCH)
        approved = []
        for order, quote in zip(orders, quotes, strict=True):
            # Submitting freezes the quote (drafts.order_submit), so every order past draft has
            # one: a lead opening a waiting request sees what they are asked to approve.
            if order.status in SUBMITTED:
                order.approved_quote = quote
                approved.append(order)
        Order.objects.bulk_update(approved, ["approved_quote"], batch_size=BULK_BATCH)
        return len(quotes)

    def _events(
        self,
        plans: list[OrderPlan],
        orders: list[Order],
        timelines: list[dict[str, datetime]],
    ) -> int:
        events: list[OrderEvent] = []

        def add(
            order: Order,
            when: datetime,
            kind: str,
            before: str,
            after: str,
            by: Any = None,
            **detail: Any,
        ) -> None:
            events.append(
                OrderEvent(
                    order=order,
                    actor=by,
                    kind=kind,
                    from_status=before,
                    to_status=after,
                    detail=detail,
                    created_at=when,
                )
            )

        S = OrderStatus
        for order, steps in zip(orders, timelines, strict=True):
            status = order.status
            add(order, steps["created"], "created", "", S.DRAFT, order.requester)
            if "submitted" in steps:
                add(
                    order,
                    steps["submitted"],
                    "submitted",
                    S.DRAFT,
                    S.PENDING_APPROVAL,
                    order.requester,
                )
            if status == S.REJECTED:
                add(
                    order,
                    steps["decided"],
                    "rejected",
                    S.PENDING_APPROVAL,
                    S.REJECTED,
                    order.decided_by,
                    comment=order.decision_comment,
                )
            elif "decided" in steps:
                add(
                    order,
                    steps["decided"],
                    "approved",
                    S.PENDING_APPROVAL,
                    S.APPROVED,
                    order.approver,
                )
            if status == S.NEEDS_REAPPROVAL:
                add(
                    order,
                    steps["decided"],
                    "requote_drift",
                    S.APPROVED,
                    S.NEEDS_REAPPROVAL,
                    drift=order.drift,
                )
            if "attempt" in steps:
                add(
                    order,
                    steps["attempt"],
                    "claimed",
                    S.APPROVED,
                    S.SUBMITTING,
                    attempt=str(order.submission_attempt_id),
                )
            if status == S.FAILED:
                add(
                    order,
                    steps["attempt"],
                    "failed",
                    S.SUBMITTING,
                    S.FAILED,
                    **order.refusal,
                )
            if status in (S.UNKNOWN, S.NEEDS_ATTENTION):
                add(
                    order,
                    steps["attempt"],
                    "outcome_unknown",
                    S.SUBMITTING,
                    S.UNKNOWN,
                    error="read timeout",
                )
            if status == S.NEEDS_ATTENTION:
                add(
                    order,
                    steps["attempt"] + timedelta(minutes=30),
                    "needs_attention",
                    S.UNKNOWN,
                    S.NEEDS_ATTENTION,
                    reason=order.attention_reason,
                )
            if "placed" in steps:
                add(order, steps["placed"], "placed", S.SUBMITTING, S.PLACED)
            if status != S.PLACED and "provisioning" in steps:
                add(
                    order,
                    steps["provisioning"],
                    S.PROVISIONING,
                    S.PLACED,
                    S.PROVISIONING,
                )
            if "ready" in steps:
                add(order, steps["ready"], S.READY, S.PROVISIONING, S.READY)
            if "cancelled" in steps:
                add(
                    order,
                    steps["cancelled"],
                    "mailboxes_cancelled",
                    S.READY,
                    status,
                    order.requester,
                )
        OrderEvent.objects.bulk_create(events, batch_size=BULK_BATCH)
        return len(events)


def _people(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
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


def _payload(plan: OrderPlan) -> dict[str, Any]:
    """The canonical body, exactly as `orders.payload.order_payload` builds it from the rows
    written here, so the quote's fingerprint matches the stored order."""
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


def _mailbox_state(
    rng: random.Random,
    mailbox: Mailbox,
    status: str,
    steps: dict[str, datetime],
    now: datetime,
) -> None:
    S = OrderStatus
    if status in (S.READY, S.PARTIALLY_CANCELLED, S.CANCELLED):
        mailbox.status = MailboxStatus.READY
        mailbox.provisioning_at = steps["provisioning"]
        mailbox.ready_at = steps["ready"]
        if status == S.CANCELLED or (
            status == S.PARTIALLY_CANCELLED and rng.random() < 0.4
        ):
            mailbox.status = MailboxStatus.CANCELLED
            mailbox.cancelled_at = steps["cancelled"]
    elif status == S.PROVISIONING:
        mailbox.provisioning_at = steps["provisioning"]
        if rng.random() < 0.4:
            mailbox.status = MailboxStatus.READY
            mailbox.ready_at = (
                steps["provisioning"] + (now - steps["provisioning"]) * rng.random()
            )
        else:
            mailbox.status = MailboxStatus.PROVISIONING
    elif status == S.PLACED and rng.random() < 0.3:
        mailbox.status = MailboxStatus.PROVISIONING


def orders_generate(
    *,
    workspace: Workspace,
    requesters: Sequence[User],
    approvers: Sequence[User],
    orders: int,
    mailboxes: int | None = None,
    seed: int = 1,
    every_status: bool = False,
    now: datetime | None = None,
) -> GenerateResult:
    """Write `orders` generated orders (and, if given, exactly `mailboxes` mailboxes where
    reachable) into `workspace`, in one transaction. Not idempotent by itself: callers check
    `attempt_id(workspace, seed, 0)` first (`every_status` makes order 0 carry it)."""
    generator = _Generator(
        workspace=workspace,
        requesters=requesters,
        approvers=approvers,
        now=now or timezone.now(),
        seed=seed,
    )
    plans = generator.plans(orders, every_status=every_status)
    if mailboxes is not None:
        _fit_mailboxes(generator.rng, plans, mailboxes)
    with transaction.atomic():
        return generator.write(plans)


class Command(BaseCommand):
    help = "Generate a bulk order history (bench fixture): orders, items, mailboxes, quotes, events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace", default="bench", help="Workspace slug (created if missing)."
        )
        parser.add_argument("--orders", type=int, default=10_000)
        parser.add_argument("--mailboxes", type=int, default=200_000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["orders"] < 1:
            raise CommandError("--orders must be at least 1.")
        workspace, _ = Workspace.objects.get_or_create(
            slug=options["workspace"], defaults={"name": options["workspace"].title()}
        )
        requesters, approvers = workspace_team(workspace)
        result = orders_generate(
            workspace=workspace,
            requesters=requesters,
            approvers=approvers,
            orders=options["orders"],
            mailboxes=options["mailboxes"],
            seed=options["seed"],
            every_status=True,
        )
        self.stdout.write(
            f"{result.orders} orders, {result.items} domains, {result.mailboxes} mailboxes, "
            f"{result.quotes} quotes, {result.events} events in {workspace.slug}."
        )


def workspace_team(
    workspace: Workspace, size: int = 6
) -> tuple[list[User], list[User]]:
    """The workspace's operators and leads; creates a small team (no usable password) if it
    has fewer than two members."""
    memberships = list(
        Membership.objects.filter(workspace=workspace).select_related("user")
    )
    if len(memberships) < 2:
        user_model = get_user_model()
        for n in range(size):
            role = Role.LEAD if n < 2 else Role.OPERATOR
            username = f"{workspace.slug}-{role}-{n}"
            user = user_model.objects.filter(username=username).first()
            if user is None:
                # No password: these users exist to own generated orders, not to log in.
                user = user_model.objects.create_user(
                    username=username, email=f"{username}@example.invalid"
                )
            Membership.objects.get_or_create(
                user=user, workspace=workspace, defaults={"role": role}
            )
        memberships = list(
            Membership.objects.filter(workspace=workspace).select_related("user")
        )
    users = [m.user for m in memberships]
    leads = [m.user for m in memberships if m.is_lead]
    return users, leads or users
