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

Query count is fixed, and no query grows with the workspace's history (issue 14: 10,000
orders / 200,000 mailboxes): the counts over the orders still moving, the bought orders and
their monthly price (`BoughtTally`), the spend by month and provider (`SpendTally`), the
median time to ready per provider over its newest ready orders (`PlacedShare`), the
mailbox counts (`MailboxTally`), one short list of orders to look at, and the unhealthy
mailboxes by provider (the index on health reads only the few unhealthy rows). The tallies
are kept as orders and mailboxes move (orders/models/tallies.py); no mailbox is counted per
view.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, cast

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from orders import conf
from orders.lifecycle import (
    ATTENTION_STATUSES,
    BOUGHT_STATUSES,
    BUDGET_STATUSES,
    FULFILMENT_STATUSES,
    IN_FLIGHT_STATUSES,
    UNHEALTHY_MAILBOX,
)
from orders.models import (
    BoughtTally,
    Mailbox,
    MailboxState,
    MailboxStatus,
    MailboxTally,
    Order,
    OrderHealth,
    OrderStatus,
    PlacedShare,
    Provider,
    SpendTally,
    Workspace,
)

# How long an order may sit in a status the machinery moves it out of before a person should
# look. The sweeper re-enqueues approved orders after 2 minutes and settles claims after 5,
# so these only trip when the workers or beat are down.
APPROVED_STUCK_AFTER: Final = timedelta(hours=1)
SUBMITTING_STUCK_AFTER: Final = timedelta(minutes=15)


MONTHS: Final = 12
# What the budget counts beyond the bought orders (whose sum is kept in `BoughtTally`).
UNBOUGHT_BUDGET: Final = BUDGET_STATUSES - BOUGHT_STATUSES
# The statuses the counts and that sum read: a year of ready, cancelled, failed or rejected
# orders is not among them, so the query reads the few orders still moving.
COUNTED_STATUSES: Final = (
    {OrderStatus.PENDING_APPROVAL, OrderStatus.APPROVED, OrderStatus.SUBMITTING}
    | IN_FLIGHT_STATUSES
    | ATTENTION_STATUSES
    | FULFILMENT_STATUSES
    | UNBOUGHT_BUDGET
)
ATTENTION_LIST_LENGTH: Final = 10
# Orders whose delivered mailboxes need a person (a partial index finds the few).
HEALTH_ATTENTION: Final = Q(health=OrderHealth.ATTENTION)
# The speeds are the median of this many newest ready orders per provider, at most.
SPEED_SAMPLE: Final = 200
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
    """A person should look: by status, stuck, or a delivered mailbox in trouble at
    Instantly (the order's health; its status stays as bought, docs/health.md)."""
    return Q(status__in=ATTENTION_STATUSES) | stuck_q(now) | HEALTH_ATTENTION


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
class ProviderUnhealthy:
    provider: Provider
    mailboxes: int


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
    # Delivered mailboxes disconnected or erroring at Instantly, by provider (docs/health.md).
    unhealthy: list[ProviderUnhealthy]

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

    @property
    def unhealthy_total(self) -> int:
        return sum(u.mailboxes for u in self.unhealthy)


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


def _spend_by_month(
    workspace: Workspace, since: datetime, months: list[date]
) -> list[MonthSpend]:
    """The placed orders' shares by month and provider, from the running `SpendTally`: a
    row per month and provider, whatever the workspace's history."""
    spend: dict[date, dict[int, Decimal]] = {
        m: dict.fromkeys(Provider.values, ZERO) for m in months
    }
    rows = SpendTally.objects.filter(
        workspace=workspace, month__gte=months[0]
    ).values_list("month", "provider", "spent")
    for month, provider, total in rows:
        by_provider = spend.get(month)
        if by_provider is not None:
            # Every share is in cents; SQLite adds them as floats (PostgreSQL exactly).
            by_provider[provider] += Decimal(total).quantize(CENT)
    return [MonthSpend(month=m, by_provider=spend[m]) for m in months]


def provider_speeds(workspace: Workspace, since: datetime) -> list[ProviderSpeed]:
    """The median time to ready per provider, over its newest orders that became ready in
    the chart's months: at most SPEED_SAMPLE a provider, read newest first through the index
    on (workspace, placed_at), so the cost does not grow with the history (the figure says
    how many orders it is the median of)."""
    # One query per provider: SQLite cannot limit the parts of a UNION.
    took: dict[int, list[timedelta]] = defaultdict(list)
    for provider in Provider.values:
        took[provider] = [
            cast("timedelta", duration)  # never null: filtered
            for duration in PlacedShare.objects.filter(
                workspace=workspace,
                provider=provider,
                placed_at__gte=since,
                took__isnull=False,
            )
            .order_by("-placed_at")
            .values_list("took", flat=True)[:SPEED_SAMPLE]
        ]
    return [
        ProviderSpeed(
            provider=Provider(p),
            orders=len(took[p]),
            median=median_duration(took[p]),
        )
        for p in Provider.values
        if took[p]
    ]


def _mailboxes(workspace: Workspace) -> list[ProviderMailboxes]:
    """Mailboxes of orders the workspace owns (active statuses), ready vs still on their
    way (requested or provisioning); cancelled mailboxes are not counted."""
    counts = {
        (provider, state): n
        for provider, state, n in MailboxTally.objects.filter(
            workspace=workspace
        ).values_list("provider", "state", "mailboxes")
    }
    return [
        ProviderMailboxes(
            provider=Provider(p),
            ready=counts.get((p, MailboxState.READY), 0),
            provisioning=counts.get((p, MailboxState.WAITING), 0),
        )
        for p in Provider.values
    ]


def _unhealthy(workspace: Workspace) -> list[ProviderUnhealthy]:
    """One grouped query that starts from the index on (health, item): it reads the few
    unhealthy rows, never the workspace's 200,000 healthy ones."""
    counts = dict(
        Mailbox.objects.filter(
            health__in=UNHEALTHY_MAILBOX, item__order__workspace=workspace
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .order_by()
        .values_list("item__provider")
        .annotate(n=Count("pk"))
    )
    return [
        ProviderUnhealthy(provider=Provider(p), mailboxes=counts[p])
        for p in Provider.values
        if counts.get(p)
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
            "health",
            "requester__username",
        )
        .order_by("-updated_at", "-pk")
    )


def workspace_dashboard(
    *, workspace: Workspace, now: datetime | None = None
) -> Dashboard:
    """Every figure of the dashboard for one workspace, in seven queries."""
    now = now or timezone.now()
    totals = (
        Order.objects.in_workspace(workspace)
        .filter(Q(status__in=COUNTED_STATUSES) | HEALTH_ATTENTION)
        .aggregate(
            pending=Count("pk", filter=Q(status=OrderStatus.PENDING_APPROVAL)),
            in_flight=Count("pk", filter=Q(status__in=IN_FLIGHT_STATUSES)),
            attention=Count(
                "pk", filter=Q(status__in=ATTENTION_STATUSES) | HEALTH_ATTENTION
            ),
            stuck=Count("pk", filter=stuck_q(now)),
            # The approved quote's price as copied onto the order (migration 0020): the
            # join to the quotes read every quote of the workspace (docs/performance.md).
            committed_unbought=Sum(
                "approved_per_month", filter=Q(status__in=UNBOUGHT_BUDGET)
            ),
        )
    )
    bought = BoughtTally.objects.filter(workspace=workspace).first()
    active_orders = bought.orders if bought else 0
    active_monthly = bought.monthly if bought else ZERO
    months = month_starts(now)
    since = datetime.combine(
        months[0], datetime.min.time(), tzinfo=timezone.get_current_timezone()
    )
    return Dashboard(
        pending_count=totals["pending"],
        in_flight_count=totals["in_flight"],
        attention_count=totals["attention"],
        stuck_count=totals["stuck"],
        active_orders=active_orders,
        active_monthly=active_monthly,
        committed_monthly=active_monthly + (totals["committed_unbought"] or ZERO),
        monthly_budget=workspace.monthly_budget,
        months=_spend_by_month(workspace, since, months),
        mailboxes=_mailboxes(workspace),
        speeds=provider_speeds(workspace, since),
        attention=list(attention_orders(workspace, now)[:ATTENTION_LIST_LENGTH]),
        unhealthy=_unhealthy(workspace),
    )
