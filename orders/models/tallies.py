"""The dashboard's running summaries, so that its page never counts a workspace's mailboxes
or groups a year of order items (issue 14: 10,000 orders / 200,000 mailboxes).

- `MailboxTally`: per workspace, provider and state (ready, or still on its way), how many
  mailboxes of bought orders (placed, provisioning, ready, partially cancelled) are not
  cancelled;
- `BoughtTally`: per workspace, how many orders are bought and what they cost a month (their
  approved quote's `per_month`, which no move of a bought order changes);
- `PlacedShare`: per placed order and provider, its share of the amount due when it was
  placed and, once it is ready, how long that took. The speeds take the median of the
  newest per provider;
- `SpendTally`: per workspace, month (of the placement, in the portal's time zone) and
  provider, the sum of those shares: what the spend chart reads, a few rows whatever the
  history (growth, docs/performance.md).

They change in the transaction of what changes them: an order entering or leaving the bought
statuses (orders/lifecycle.py calls `orders_moved`), mailboxes moving (the fulfilment poll and
cancellations call `mailboxes_moved`), an order becoming ready (the poll calls
`PlacedShare.objects.ready`). Every write of a bought order's mailboxes holds that order's
row lock, so a delta is computed from the statuses as they are. Tally rows are locked after
the orders, the mailbox tallies before the bought tally and that before the spend tally (a
caller moving mailboxes and then its order writes them in that order), so two writers never
wait for each other in a cycle.

`rebuild` recomputes a workspace from scratch: after bulk writes that bypass the lifecycle
(orders/history_generator), in the migration that introduced the tables, and in the tests,
which check that it always equals the running result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Final, cast

from django.db import connections, models
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone

from orders.lifecycle import BOUGHT_STATUSES
from orders.models.items import MailboxStatus, OrderItem, Provider
from orders.models.order import Order
from orders.models.workspaces import Workspace

CENT: Final = Decimal("0.01")
BATCH_SIZE: Final = 1000


class MailboxState(models.TextChoices):
    """What the dashboard tells apart; cancelled mailboxes are not counted at all."""

    READY = "ready", "Ready"
    WAITING = "waiting", "Requested or provisioning"


def mailbox_state(status: str | None) -> MailboxState | None:
    if status == MailboxStatus.READY:
        return MailboxState.READY
    if status in (MailboxStatus.REQUESTED, MailboxStatus.PROVISIONING):
        return MailboxState.WAITING
    return None


# (workspace id, provider, state) → mailboxes to add (negative: to take away).
TallyKey = tuple[int, int, str]


def _add(
    rows: QuerySet[Any],
    keys: Sequence[str],
    amounts: Sequence[str],
    values: Iterable[tuple[tuple[Any, ...], tuple[Any, ...]]],
) -> None:
    """Add (key values, amounts) pairs to the table's `amounts` in one INSERT … ON CONFLICT
    (keys) DO UPDATE: a row appears with its first amount, and two transactions adding to one
    row both count (a read then a write could lose one). Rows in a fixed order, so two writers
    lock them alike. SQLite and PostgreSQL both speak it."""
    ordered = sorted(values)
    if not ordered:
        return
    meta = rows.model._meta
    connection = connections[rows.db]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    key_columns, amount_columns = (
        [quote(cast("models.Field[Any, Any]", meta.get_field(f)).column) for f in names]
        for names in (keys, amounts)
    )
    row = "(" + ", ".join(["%s"] * (len(keys) + len(amounts))) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(key_columns + amount_columns)}) "  # noqa: S608 - names from the model
        f"VALUES {', '.join([row] * len(ordered))} "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in amount_columns)
    )
    params = [value for key, amount in ordered for value in (*key, *amount)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


class MailboxTallyQuerySet(models.QuerySet["MailboxTally"]):
    def add(self, deltas: Mapping[TallyKey, int]) -> None:
        _add(
            self,
            ("workspace", "provider", "state"),
            ("mailboxes",),
            [(key, (n,)) for key, n in deltas.items() if n],
        )

    def mailboxes_moved(
        self,
        *,
        workspace_id: int,
        moves: Iterable[tuple[int, str | None, str | None]],
    ) -> None:
        """Mailboxes of bought orders went from one status to another, as (provider, status
        before or None for a new mailbox, status after). The caller holds their orders' locks."""
        deltas: Counter[TallyKey] = Counter()
        for provider, before, after in moves:
            old, new = mailbox_state(before), mailbox_state(after)
            if old == new:
                continue
            if old is not None:
                deltas[workspace_id, provider, old] -= 1
            if new is not None:
                deltas[workspace_id, provider, new] += 1
        self.add(deltas)

    def orders_moved(self, order_ids: Sequence[int], *, bought: bool) -> None:
        """These orders (locked) just entered the bought statuses (`bought`: their live
        mailboxes count from now on, and their spend is recorded as placed) or left them
        (their live mailboxes stop counting; what they cost stays spent)."""
        sign = 1 if bought else -1
        rows = _figures(Q(order_id__in=order_ids))
        if bought:
            # An order recorded as placed again (its placement learnt anew, e.g. by a
            # reconciliation after its status was set back by hand) keeps one share per
            # provider: the newest placement's. Its month's spend follows the replacement.
            shares = _shares(rows)
            earlier = PlacedShare.objects.filter(order_id__in=order_ids)
            spend = _spend(shares, sign=1, into=_spend(earlier, sign=-1))
            PlacedShare.objects.bulk_create(
                shares,
                batch_size=BATCH_SIZE,
                update_conflicts=True,
                unique_fields=["order", "provider"],
                update_fields=["placed_at", "share", "took"],
            )
        self.add(_deltas(rows, sign=sign))
        BoughtTally.objects.add(_bought(Q(pk__in=order_ids), sign=sign))
        if bought:
            # Last: every writer locks the mailbox, bought and spend rows in this order.
            SpendTally.objects.add(spend)

    def rebuild(self, *, workspace_id: int, spend: bool = True) -> None:
        """The workspace's summaries recomputed from its orders and mailboxes. For bulk
        writes, migrations and tests: a concurrent move in the workspace could be lost.
        `spend=False` leaves the spend tally alone (migration 0015 runs before its table)."""
        rows = _figures(
            Q(order__workspace_id=workspace_id)
            & (Q(order__placed_at__isnull=False) | Q(order__status__in=BOUGHT_STATUSES))
        )
        self.filter(workspace_id=workspace_id).delete()
        PlacedShare.objects.filter(workspace_id=workspace_id).delete()
        BoughtTally.objects.filter(workspace_id=workspace_id).delete()
        shares = _shares(rows)
        PlacedShare.objects.bulk_create(shares, batch_size=BATCH_SIZE)
        if spend:
            SpendTally.objects.filter(workspace_id=workspace_id).delete()
            SpendTally.objects.add(_spend(shares, sign=1))
        bought = [r for r in rows if r["order__status"] in BOUGHT_STATUSES]
        self.add(_deltas(bought, sign=1))
        BoughtTally.objects.add(
            _bought(Q(workspace_id=workspace_id, status__in=BOUGHT_STATUSES), sign=1)
        )


class MailboxTally(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    provider = models.PositiveSmallIntegerField(choices=Provider)
    state = models.CharField(max_length=10, choices=MailboxState)
    # No check for >= 0: orders written by hand (tests, fixtures) may leave the tallies before
    # they entered them; `rebuild` puts such a workspace right.
    mailboxes = models.BigIntegerField(default=0)

    objects = MailboxTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider", "state"], name="mailbox_tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{Provider(self.provider).label} {self.state}: {self.mailboxes}"


class BoughtTallyQuerySet(models.QuerySet["BoughtTally"]):
    def add(self, deltas: Mapping[int, tuple[int, Decimal]]) -> None:
        """{workspace id: (orders, monthly)} added."""
        _add(
            self,
            ("workspace",),
            ("orders", "monthly"),
            [((ws,), delta) for ws, delta in deltas.items() if any(delta)],
        )


class BoughtTally(models.Model):
    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="+"
    )
    orders = models.BigIntegerField(default=0)
    monthly = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))

    objects = BoughtTallyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.orders} bought orders, ${self.monthly} a month"


class PlacedShareQuerySet(models.QuerySet["PlacedShare"]):
    def ready(self, order_ids: Sequence[int], *, ready_at: datetime) -> None:
        """These orders became ready at `ready_at`: their time to ready, placed → ready."""
        if not order_ids:
            return
        self.filter(order_id__in=order_ids).update(
            took=ExpressionWrapper(
                Value(ready_at) - F("placed_at"), output_field=DurationField()
            )
        )


class PlacedShare(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    provider = models.PositiveSmallIntegerField(choices=Provider)
    placed_at = models.DateTimeField()
    # The order's amount due now, shared among its providers in proportion to their domains
    # (`split_cents`); none without an approved quote.
    share = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    took = models.DurationField(null=True)

    objects = PlacedShareQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "provider"], name="placed_share_unique"
            )
        ]
        # The dashboard reads a workspace's last 12 months.
        indexes = [
            models.Index(fields=["workspace", "placed_at"], name="placed_share_ws_at")
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id}, {Provider(self.provider).label}: {self.share}"


# (workspace id, month, provider) → amount to add.
SpendKey = tuple[int, date, int]


class SpendTallyQuerySet(models.QuerySet["SpendTally"]):
    def add(self, deltas: Mapping[SpendKey, Decimal]) -> None:
        _add(
            self,
            ("workspace", "month", "provider"),
            ("spent",),
            [(key, (amount,)) for key, amount in deltas.items() if amount],
        )


class SpendTally(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # The first day of the month the shares were placed in (the portal's time zone).
    month = models.DateField()
    provider = models.PositiveSmallIntegerField(choices=Provider)
    # SQLite adds these as floats: readers round to the cent (every share is whole cents).
    spent = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))

    objects = SpendTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "month", "provider"], name="spend_tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%b %Y} {Provider(self.provider).label}: ${self.spent}"


def placement_month(placed_at: datetime) -> date:
    return timezone.localtime(placed_at).date().replace(day=1)


def _spend(
    shares: Iterable[PlacedShare],
    *,
    sign: int,
    into: Mapping[SpendKey, Decimal] | None = None,
) -> dict[SpendKey, Decimal]:
    """The shares summed by workspace, month and provider, times `sign`, added to `into`."""
    spend: dict[SpendKey, Decimal] = defaultdict(Decimal, into or {})
    for share in shares:
        if share.share is not None:
            key = (share.workspace_id, placement_month(share.placed_at), share.provider)
            spend[key] += sign * share.share
    return spend


def split_cents(amount: Decimal, weights: Mapping[int, int]) -> dict[int, Decimal]:
    """`amount` shared in proportion to `weights`, to the cent, summing exactly to `amount`
    (largest remainder method)."""
    total_weight = sum(weights.values())
    cents = int((amount / CENT).to_integral_value(rounding=ROUND_HALF_UP))
    shares: dict[int, int] = {}
    remainders: list[tuple[Decimal, int]] = []
    for key, weight in weights.items():
        exact = Decimal(cents * weight) / total_weight
        floor = int(exact.to_integral_value(rounding=ROUND_FLOOR))
        shares[key] = floor
        remainders.append((exact - floor, key))
    for _, key in sorted(remainders, reverse=True)[: cents - sum(shares.values())]:
        shares[key] += 1
    return {key: Decimal(share) * CENT for key, share in shares.items()}


def _figures(items: Q) -> list[dict[str, Any]]:
    """One row per order and provider of the matching items: its domains, its ready and
    waiting mailboxes, and what the summaries need of the order. One query."""
    waiting = [MailboxStatus.REQUESTED, MailboxStatus.PROVISIONING]
    return list(
        OrderItem.objects.filter(items)
        .values(
            "order_id",
            "provider",
            "order__workspace_id",
            "order__status",
            "order__placed_at",
            "order__ready_at",
            "order__approved_quote__due_now",
        )
        .annotate(
            domains=Count("pk", distinct=True),
            ready=Count("mailboxes", filter=Q(mailboxes__status=MailboxStatus.READY)),
            waiting=Count("mailboxes", filter=Q(mailboxes__status__in=waiting)),
        )
        .order_by()
    )


def _bought(orders: Q, *, sign: int) -> dict[int, tuple[int, Decimal]]:
    """The matching orders counted, with their monthly price, per workspace. One query."""
    rows = (
        Order.objects.filter(orders)
        .values_list("workspace_id")
        .annotate(n=Count("pk"), monthly=Sum("approved_quote__per_month"))
        .order_by()
    )
    # SQLite sums decimals as floats; every price is in cents.
    return {
        ws: (sign * n, sign * (monthly or Decimal(0)).quantize(CENT))
        for ws, n, monthly in rows
    }


def _deltas(rows: Iterable[dict[str, Any]], *, sign: int) -> Counter[TallyKey]:
    deltas: Counter[TallyKey] = Counter()
    for row in rows:
        workspace_id, provider = row["order__workspace_id"], row["provider"]
        deltas[workspace_id, provider, MailboxState.READY] += sign * row["ready"]
        deltas[workspace_id, provider, MailboxState.WAITING] += sign * row["waiting"]
    return deltas


def _shares(rows: Iterable[dict[str, Any]]) -> list[PlacedShare]:
    """An order with one provider (the usual case) counts entirely for it; a mixed one is
    split in proportion to its domains of each provider."""
    orders: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["order__placed_at"] is not None:
            orders[row["order_id"]].append(row)
    shares = []
    for order_id, providers in orders.items():
        first = providers[0]
        due_now = first["order__approved_quote__due_now"]
        split = (
            split_cents(due_now, {r["provider"]: r["domains"] for r in providers})
            if due_now is not None
            else {}
        )
        placed_at, ready_at = first["order__placed_at"], first["order__ready_at"]
        shares += [
            PlacedShare(
                workspace_id=first["order__workspace_id"],
                order_id=order_id,
                provider=row["provider"],
                placed_at=placed_at,
                share=split.get(row["provider"]),
                took=None if ready_at is None else ready_at - placed_at,
            )
            for row in providers
        ]
    return shares
