"""The spend dashboard's figures: what a workspace owns, what it spent, how fast it got it, what
is stuck. Its charts are drawn from these figures by `dashboard_charts`.

Money is Decimal from the stored quotes to the page; chart geometry is Decimal too, so no
float ever touches an amount. Choices where the issue is silent:

- "Active" (recurring monthly cost) = orders placed, provisioning, ready or partially
  cancelled, at their approved quote's `per_month`. A partial cancellation is not re-priced:
  Instantly does not report what it stops billing, so this is an upper bound for those orders.
- "Spend due per month" = the approved quote's `due_now` of the orders *placed* (placed_at)
  in each calendar month (current time zone), last 12 months including this one. By
  provider: an order with one provider (the usual case) counts entirely for it; an order
  mixing providers is split in proportion to its domains of each provider, to the cent, the
  remainder going to the largest fractions, so a month's bars always add up to its total.
- "Time to ready" = placed_at → ready_at of orders placed in the same 12 months; a mixed
  order counts for each of its providers.
- "Needs attention" = statuses a person must act on (needs attention, unknown, price
  changed); "stuck" = no movement for longer than a status allows (see `stuck_q`).

Query count is fixed: one aggregate of counts and sums, one grouped query over the window's
order items, one grouped mailbox count, one short list of orders to look at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Final

from django.db.models import (
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from orders import conf
from orders.lifecycle import (
    ATTENTION_STATUSES,
    BOUGHT_STATUSES,
    BUDGET_STATUSES,
    FULFILMENT_STATUSES,
    IN_FLIGHT_STATUSES,
)
from orders.models import (
    Mailbox,
    MailboxStatus,
    Order,
    OrderItem,
    OrderStatus,
    Provider,
    Workspace,
)

# How long an order may sit in a status the machinery moves it out of before a person should
# look. The sweeper re-enqueues approved orders after 2 minutes and settles claims after 5,
# so these only trip when the workers or beat are down.
APPROVED_STUCK_AFTER: Final = timedelta(hours=1)
SUBMITTING_STUCK_AFTER: Final = timedelta(minutes=15)


MONTHS: Final = 12
ATTENTION_LIST_LENGTH: Final = 10
ZERO: Final = Decimal("0")
CENT: Final = Decimal("0.01")


def stuck_q(now: datetime) -> Q:
    """Orders with no movement for longer than their status allows."""
    approved_before = now - APPROVED_STUCK_AFTER
    submitting_before = now - SUBMITTING_STUCK_AFTER
    # The fulfilment poll's own bound (`Order.stuck_at`), so both always agree.
    progress_before = now - conf.stuck_after()
    return (
        Q(status=OrderStatus.APPROVED)
        & (
            Q(decided_at__lt=approved_before)
            | Q(decided_at__isnull=True, updated_at__lt=approved_before)
        )
        | Q(status=OrderStatus.SUBMITTING)
        & (
            Q(attempt_started_at__lt=submitting_before)
            | Q(attempt_started_at__isnull=True, updated_at__lt=submitting_before)
        )
        | Q(status__in=FULFILMENT_STATUSES)
        & (
            Q(stuck_at__isnull=False)
            | Q(last_progress_at__lt=progress_before)
            | Q(last_progress_at__isnull=True, placed_at__lt=progress_before)
        )
    )


def attention_q(now: datetime) -> Q:
    return Q(status__in=ATTENTION_STATUSES) | stuck_q(now)


@dataclass(frozen=True)
class MonthSpend:
    month: date
    by_provider: dict[int, Decimal]

    @property
    def total(self) -> Decimal:
        return sum(self.by_provider.values(), ZERO)

    @property
    def label(self) -> str:
        return self.month.strftime("%b %Y")


@dataclass(frozen=True)
class ProviderMailboxes:
    provider: Provider
    ready: int
    provisioning: int

    @property
    def total(self) -> int:
        return self.ready + self.provisioning


@dataclass(frozen=True)
class ProviderSpeed:
    provider: Provider
    orders: int
    median: timedelta

    @property
    def median_text(self) -> str:
        return duration_text(self.median)


@dataclass(frozen=True)
class Dashboard:
    pending_count: int
    in_flight_count: int
    attention_count: int
    stuck_count: int
    active_orders: int
    active_monthly: Decimal
    # What the approval budget check counts (workflow.committed_monthly_spend): active plus
    # approved, submitting and unsettled orders.
    committed_monthly: Decimal
    monthly_budget: Decimal | None
    months: list[MonthSpend]
    mailboxes: list[ProviderMailboxes]
    speeds: list[ProviderSpeed]
    attention: list[Order]

    @property
    def spend_total(self) -> Decimal:
        return sum((m.total for m in self.months), ZERO)

    @property
    def budget_used_percent(self) -> int | None:
        if not self.monthly_budget:
            return None
        share = self.committed_monthly * 100 / self.monthly_budget
        return int(share.quantize(Decimal("1"), rounding=ROUND_HALF_UP))

    @property
    def mailboxes_ready(self) -> int:
        return sum(m.ready for m in self.mailboxes)

    @property
    def mailboxes_provisioning(self) -> int:
        return sum(m.provisioning for m in self.mailboxes)


def duration_text(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def median_duration(values: list[timedelta]) -> timedelta:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def month_starts(now: datetime, count: int = MONTHS) -> list[date]:
    """First days of the last `count` calendar months (local time), oldest first."""
    current = timezone.localtime(now).date().replace(day=1)
    months = []
    year, month = current.year, current.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def split_cents(amount: Decimal, weights: dict[int, int]) -> dict[int, Decimal]:
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


@dataclass
class _PlacedOrder:
    month: date
    took: timedelta | None  # placed → ready
    due_now: Decimal | None
    domains: dict[int, int]


def _placed_orders(workspace: Workspace, since: datetime) -> list[_PlacedOrder]:
    """Orders placed since `since`, with their domain count per provider: one grouped query
    over the items (one row per order and provider). The month and the time to ready are
    computed by the database: parsing two timestamps per row in Python cost more."""
    rows = (
        OrderItem.objects.filter(
            order__workspace=workspace, order__placed_at__gte=since
        )
        .annotate(
            month=TruncMonth("order__placed_at", output_field=DateField()),
            took=ExpressionWrapper(
                F("order__ready_at") - F("order__placed_at"),
                output_field=DurationField(),
            ),
        )
        .values_list(
            "order_id", "month", "took", "order__approved_quote__due_now", "provider"
        )
        .annotate(domains=Count("pk"))
        .order_by()
    )
    orders: dict[int, _PlacedOrder] = {}
    for order_id, month, took, due_now, provider, domains in rows:
        placed = orders.get(order_id)
        if placed is None:
            placed = orders[order_id] = _PlacedOrder(month, took, due_now, {})
        placed.domains[provider] = domains
    return list(orders.values())


def _spend_by_month(placed: list[_PlacedOrder], months: list[date]) -> list[MonthSpend]:
    spend: dict[date, dict[int, Decimal]] = {
        m: dict.fromkeys(Provider.values, ZERO) for m in months
    }
    for order in placed:
        by_provider = spend.get(order.month)
        if order.due_now is None or by_provider is None:
            continue
        if len(order.domains) == 1:
            (provider,) = order.domains
            by_provider[provider] += order.due_now
            continue
        for provider, share in split_cents(order.due_now, order.domains).items():
            by_provider[provider] += share
    return [MonthSpend(month=m, by_provider=spend[m]) for m in months]


def _speeds(placed: list[_PlacedOrder]) -> list[ProviderSpeed]:
    durations: dict[int, list[timedelta]] = defaultdict(list)
    for order in placed:
        if order.took is None:
            continue
        for provider in order.domains:
            durations[provider].append(order.took)
    return [
        ProviderSpeed(
            provider=Provider(p),
            orders=len(durations[p]),
            median=median_duration(durations[p]),
        )
        for p in Provider.values
        if durations[p]
    ]


def _mailboxes(workspace: Workspace) -> list[ProviderMailboxes]:
    """Mailboxes of orders the workspace owns (active statuses), ready vs still on their
    way (requested or provisioning); cancelled mailboxes are not counted."""
    rows = (
        Mailbox.objects.filter(
            item__order__workspace=workspace,
            item__order__status__in=BOUGHT_STATUSES,
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .values_list("item__provider", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    ready: dict[int, int] = defaultdict(int)
    waiting: dict[int, int] = defaultdict(int)
    for provider, status, n in rows:
        (ready if status == MailboxStatus.READY else waiting)[provider] += n
    return [
        ProviderMailboxes(provider=Provider(p), ready=ready[p], provisioning=waiting[p])
        for p in Provider.values
    ]


def attention_orders(workspace: Workspace, now: datetime) -> QuerySet[Order]:
    return (
        Order.objects.in_workspace(workspace)
        .filter(attention_q(now))
        .select_related("requester")
        .only(
            "pk",
            "title",
            "status",
            "order_type",
            "updated_at",
            "attention_reason",
            "requester__username",
        )
        .order_by("-updated_at", "-pk")
    )


def workspace_dashboard(
    *, workspace: Workspace, now: datetime | None = None
) -> Dashboard:
    """Every figure of the dashboard for one workspace, in four queries."""
    now = now or timezone.now()
    orders = Order.objects.in_workspace(workspace)
    active = Q(status__in=BOUGHT_STATUSES)
    totals = orders.aggregate(
        pending=Count("pk", filter=Q(status=OrderStatus.PENDING_APPROVAL)),
        in_flight=Count("pk", filter=Q(status__in=IN_FLIGHT_STATUSES)),
        attention=Count("pk", filter=Q(status__in=ATTENTION_STATUSES)),
        stuck=Count("pk", filter=stuck_q(now)),
        active_orders=Count("pk", filter=active),
        active_monthly=Sum("approved_quote__per_month", filter=active),
        committed_monthly=Sum(
            "approved_quote__per_month", filter=Q(status__in=BUDGET_STATUSES)
        ),
    )
    months = month_starts(now)
    since = datetime.combine(
        months[0], datetime.min.time(), tzinfo=timezone.get_current_timezone()
    )
    placed = _placed_orders(workspace, since)
    return Dashboard(
        pending_count=totals["pending"],
        in_flight_count=totals["in_flight"],
        attention_count=totals["attention"],
        stuck_count=totals["stuck"],
        active_orders=totals["active_orders"],
        active_monthly=totals["active_monthly"] or ZERO,
        committed_monthly=totals["committed_monthly"] or ZERO,
        monthly_budget=workspace.monthly_budget,
        months=_spend_by_month(placed, months),
        mailboxes=_mailboxes(workspace),
        speeds=_speeds(placed),
        attention=list(attention_orders(workspace, now)[:ATTENTION_LIST_LENGTH]),
    )
