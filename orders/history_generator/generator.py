"""Writing a generated order history: orders in every state and provider, with items,
mailboxes, quotes and the event timeline, all with bulk_create, in one transaction.

Everything is deterministic for a seed, so a seeder recognises its own earlier run by
`attempt_id(workspace, seed, 0)`.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from orders.history_generator.events import order_events
from orders.history_generator.plans import (
    APPROVED,
    ATTEMPTED,
    DECIDED,
    PLACED,
    READY_HOURS,
    RECENT_STATUSES,
    SUBMITTED,
    Names,
    OrderPlan,
    canonical_payload,
    draw_people,
    fit_mailboxes,
    json_number,
    pick_status,
    plan_items,
    plan_price,
)
from orders.history_generator.vocabulary import REFUSALS, TITLES
from orders.lifecycle import order_events_bulk_record
from orders.models import (
    Mailbox,
    MailboxStatus,
    MailboxTally,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
    Quote,
    Workspace,
)
from orders.models.order import quote_frozen
from orders.payload import fingerprint

# Rows per INSERT: large enough to be fast, small enough for SQLite's parameter limit.
BULK_BATCH: Final = 1000
SEED_NAMESPACE: Final = uuid.UUID("6f1d8f3e-7d55-4c1a-9a55-0c5e2b7f4d21")


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
        self.names = Names(self.rng)

    def plans(self, count: int, *, every_status: bool) -> list[OrderPlan]:
        rng = self.rng
        statuses = [pick_status(rng) for _ in range(count)]
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
                    items=plan_items(rng, self.names, order_type),
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
                item.people = draw_people(rng, item.mailboxes)
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
            events = order_events(orders, timelines)
            order_events_bulk_record(events, batch_size=BULK_BATCH)
        return GenerateResult(
            orders=len(orders),
            items=len(items),
            mailboxes=mailboxes,
            quotes=quotes,
            events=len(events),
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
            per_month, per_year, priced = plan_price(plan.order_type, plan.items)
            payload = canonical_payload(plan)
            due_now = per_month + per_year
            body = {
                "order_placed": False,
                "order_is_valid": True,
                "simulation": True,
                "number_of_domains_ordered": len(plan.items),
                "number_of_accounts_ordered": sum(i.mailboxes for i in plan.items),
                "total_accounts_price_per_month": json_number(per_month),
                "total_domains_price_per_year": json_number(per_year),
                "total_price_per_month": json_number(per_month),
                "total_price_per_year": json_number(per_year),
                "total_price": json_number(due_now),
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
                for name, value in quote_frozen(quote).items():
                    setattr(order, name, value)
                approved.append(order)
        Order.objects.bulk_update(
            approved, list(quote_frozen(None)), batch_size=BULK_BATCH
        )
        return len(quotes)


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
        fit_mailboxes(generator.rng, plans, mailboxes)
    with transaction.atomic():
        result = generator.write(plans)
        # Bulk inserts bypass the lifecycle, which keeps the dashboard's tallies as orders
        # move: count the workspace once, from what is now written.
        MailboxTally.objects.rebuild(workspace_id=workspace.pk)
        return result
