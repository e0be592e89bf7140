"""The renewal calendar (reads only): what the workspace's live items renew in each of the
next 12 months and what that costs, less what is scheduled to be cancelled before it
(docs/renewals.md; the billing facts, documented and inferred, in docs/instantly.md).

- Live items: mailboxes not cancelled of bought orders (placed, provisioning, ready, partially
  cancelled), and the domains of `dfy` and pre-warmed orders that still have a live mailbox
  (or none known yet). `extra_accounts` orders add mailboxes on domains already paid for.
- Mailboxes renew every month on the 15th: Google and AirMail per mailbox, pre-warmed
  mailboxes at their own price, Microsoft per domain whatever its mailboxes.
- Domains renew once a year on the 15th of the month their order was placed in, from the
  next year on (inferred: Instantly does not say which day).
- Prices: per provider and kind (pre-warmed or not), the newest bought order's own bill (its
  real order's answer, else its approved quote) where it has one, else Instantly's list
  price; each figure says which (`UnitPrice.source`).

Bounded whatever the history (issue 14: 200,000 mailboxes): the mailbox counts come from the
dashboard's running tally plus one count over pre-warmed orders, the domains are counted by
provider, kind and month in SQL, the prices read at most one bill per provider and kind, and
the open schedules are few. Seven queries, none per mailbox, domain or month.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear
from django.utils import timezone

from orders import billing
from orders.lifecycle import BOUGHT_STATUSES
from orders.models import (
    Mailbox,
    MailboxState,
    MailboxStatus,
    MailboxTally,
    Order,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
    ScheduledCancellation,
    Workspace,
)
from orders.models.renewals import ScheduledCancellationQuerySet
from orders.quotes import CACHE_ERRORS

logger = logging.getLogger(__name__)

MONTHS: Final = 12
RENEWAL_DAY: Final = 15
ZERO: Final = Decimal("0.00")
QUOTE: Final = "quote"
LIST: Final = "list"
# Instantly's list prices (docs/instantly.md, "Renewals"): help centre article 13559163,
# except Microsoft (the API schema) and AirMail (not published; a schema example hints $4:
# inferred, low confidence).
LIST_MAILBOX_MONTHLY: Final = {
    Provider.GOOGLE: Decimal("5.00"),
    Provider.AIRMAIL: Decimal("4.00"),
}
LIST_PREWARMED_MONTHLY: Final = Decimal("10.00")
LIST_MICROSOFT_DOMAIN_MONTHLY: Final = Decimal("20.00")
LIST_DOMAIN_YEARLY: Final = Decimal("15.00")
# Domains the picker on the renewals page lists at once (a search narrows them).
PICKER_LIMIT: Final = 50
RECENT_SCHEDULES: Final = 20


def renewal_dates(today: date, count: int = MONTHS) -> list[date]:
    """The next `count` renewals (the 15th of each month) strictly after `today`: on the 15th
    itself that day's renewal has happened."""
    year, month = today.year, today.month
    if today.day >= RENEWAL_DAY:
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    dates = []
    for _ in range(count):
        dates.append(date(year, month, RENEWAL_DAY))
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return dates


def next_renewal(today: date) -> date:
    return renewal_dates(today, 1)[0]


def run_day(renewal: date) -> date:
    """A scheduled cancellation runs the day before the renewal it is to miss."""
    return renewal - timedelta(days=1)


@dataclass(frozen=True)
class UnitPrice:
    """What one live item of a provider and kind costs at a renewal."""

    provider: Provider
    prewarmed: bool
    # A month: per mailbox, or per domain when `per_domain` (Microsoft).
    monthly: Decimal
    per_domain: bool
    domain_yearly: Decimal
    source: str  # QUOTE or LIST

    @property
    def source_words(self) -> str:
        return "your newest order's price" if self.source == QUOTE else "list price"


Kind = tuple[int, bool]  # (provider, pre-warmed)


def list_price(provider: int, prewarmed: bool) -> UnitPrice:
    p = Provider(provider)
    if p == Provider.MICROSOFT:
        monthly, per_domain = LIST_MICROSOFT_DOMAIN_MONTHLY, True
    elif prewarmed:
        monthly, per_domain = LIST_PREWARMED_MONTHLY, False
    else:
        monthly, per_domain = LIST_MAILBOX_MONTHLY[p], False
    return UnitPrice(p, prewarmed, monthly, per_domain, LIST_DOMAIN_YEARLY, LIST)


def unit_prices(workspace: Workspace) -> dict[Kind, UnitPrice]:
    """The price of every provider and kind: from the newest bought order of that provider
    and type whose bill lists it, else the list price. Two queries and at most nine bills."""
    newest = (
        OrderItem.objects.filter(
            order__workspace=workspace, order__status__in=BOUGHT_STATUSES
        )
        .values_list("provider", "order__order_type")
        .annotate(newest=Max("order_id"))
        .order_by()
    )
    by_type = {(p, t): pk for p, t, pk in newest}
    orders = {
        o.pk: o
        for o in Order.objects.filter(pk__in=by_type.values()).select_related(
            "approved_quote"
        )
    }
    prices: dict[Kind, UnitPrice] = {}
    for provider in Provider:
        for prewarmed in (False, True):
            fallback = list_price(provider, prewarmed)
            types = (
                [OrderType.PRE_WARMED_UP]
                if prewarmed
                else [OrderType.DFY, OrderType.EXTRA_ACCOUNTS]
            )
            monthly: Decimal | None = None
            yearly: Decimal | None = None
            for order_type in types:
                order = orders.get(by_type.get((provider, order_type), 0))
                bill = billing.order_bill(order) if order is not None else None
                lines = [
                    x for x in (bill.lines if bill else ()) if x.provider == provider
                ]
                for line in lines:
                    each = line.per_month if line.per_domain else line.mailbox_each
                    if monthly is None and each:
                        monthly = each
                    # extra_accounts pay no domain; a free domain says nothing either.
                    if (
                        yearly is None
                        and order_type != OrderType.EXTRA_ACCOUNTS
                        and not line.domain_free
                        and line.domain_per_year
                    ):
                        yearly = line.domain_per_year
            prices[provider, prewarmed] = UnitPrice(
                provider,
                prewarmed,
                monthly if monthly is not None else fallback.monthly,
                fallback.per_domain,
                yearly if yearly is not None else fallback.domain_yearly,
                QUOTE if monthly is not None else LIST,
            )
    return prices


@dataclass(frozen=True)
class ProviderRenewal:
    provider: Provider
    mailboxes: int
    # Microsoft's live domains, billed monthly per domain.
    monthly_domains: int
    cost: Decimal


@dataclass(frozen=True)
class MonthRenewal:
    renews_on: date
    providers: list[ProviderRenewal]
    domains: int
    domains_cost: Decimal
    # What open schedules take off this renewal (already out of the figures above).
    scheduled_mailboxes: int
    scheduled_domains: int
    scheduled_saving: Decimal

    @property
    def mailboxes(self) -> int:
        return sum(p.mailboxes for p in self.providers)

    @property
    def mailboxes_cost(self) -> Decimal:
        return sum((p.cost for p in self.providers), ZERO)

    @property
    def total(self) -> Decimal:
        return self.mailboxes_cost + self.domains_cost

    @property
    def label(self) -> str:
        return self.renews_on.strftime("%b %Y")


@dataclass(frozen=True)
class Forecast:
    months: list[MonthRenewal]
    prices: dict[Kind, UnitPrice]
    # Every open schedule's monthly saving (awaiting approval included).
    scheduled_monthly: Decimal
    open_schedules: int = 0
    price_rows: list[UnitPrice] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((m.total for m in self.months), ZERO)

    @property
    def next(self) -> MonthRenewal:
        return self.months[0]


@dataclass
class _Live:
    """Live counts of one provider and kind: mailboxes, domains (all) and domains by the
    (year, month) they were bought in: they renew on the 15th of that month in later years."""

    mailboxes: int = 0
    domains: int = 0
    domains_bought: dict[tuple[int, int], int] = field(
        default_factory=lambda: defaultdict(int)
    )

    def yearly_on(self, renews_on: date) -> int:
        """Domains whose yearly renewal is this one (not the month they were bought in)."""
        return sum(
            n
            for (year, month), n in self.domains_bought.items()
            if month == renews_on.month and year < renews_on.year
        )


def _live_counts(workspace: Workspace) -> dict[Kind, _Live]:
    live: dict[Kind, _Live] = defaultdict(_Live)
    tally = MailboxTally.objects.filter(
        workspace=workspace, state__in=[MailboxState.READY, MailboxState.WAITING]
    ).values_list("provider", "mailboxes")
    for provider, n in tally:
        live[provider, False].mailboxes += n
    prewarmed = (
        Mailbox.objects.filter(
            item__order__workspace=workspace,
            item__order__status__in=BOUGHT_STATUSES,
            item__order__order_type=OrderType.PRE_WARMED_UP,
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .values_list("item__provider")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for provider, n in prewarmed:
        # The tally counts every bought mailbox: move the pre-warmed ones to their kind.
        live[provider, False].mailboxes -= n
        live[provider, True].mailboxes += n
    some_live = Mailbox.objects.filter(item=OuterRef("pk")).exclude(
        status=MailboxStatus.CANCELLED
    )
    any_mailbox = Mailbox.objects.filter(item=OuterRef("pk"))
    domains = (
        OrderItem.objects.filter(
            order__workspace=workspace, order__status__in=BOUGHT_STATUSES
        )
        # Only a partly cancelled order can have a domain whose mailboxes are all cancelled.
        .filter(
            ~Q(order__status=OrderStatus.PARTIALLY_CANCELLED)
            | Exists(some_live)
            | ~Exists(any_mailbox)
        )
        .annotate(
            bought=Coalesce("order__placed_at", "order__created_at"),
            year=ExtractYear("bought"),
            month=ExtractMonth("bought"),
        )
        .values_list("provider", "order__order_type", "year", "month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for provider, order_type, year, month, n in domains:
        counts = live[provider, order_type == OrderType.PRE_WARMED_UP]
        counts.domains += n
        if order_type != OrderType.EXTRA_ACCOUNTS:
            counts.domains_bought[year, month] += n
    return live


@dataclass(frozen=True)
class _Scheduled:
    renewal_on: date
    kind_prewarmed: bool
    # When the order was bought (its domains renew that month in later years); None: it
    # pays no domain (extra_accounts).
    bought: date | None
    # {provider: (mailboxes, domains whose last mailbox goes)}
    breakdown: dict[int, tuple[int, int]]
    monthly_saving: Decimal


def _open_schedules(
    workspace: Workspace, first: date, prices: dict[Kind, UnitPrice]
) -> list[_Scheduled]:
    """The open schedules with what they still take away: their chosen mailboxes that are
    still live, counted now (one that was cancelled meanwhile by hand is not taken off the
    forecast a second time), and the saving that leaves at today's prices."""
    rows = list(
        ScheduledCancellation.objects.in_workspace(workspace)
        .open()
        .filter(renewal_on__gte=first)
        .values_list(
            "order_id",
            "renewal_on",
            "emails",
            "domains",
            "order__order_type",
            "order__placed_at",
            "order__created_at",
        )
    )
    # Every live mailbox of the orders concerned: (order, domain) → [(address, provider)].
    live: dict[tuple[int, str], list[tuple[str, int]]] = defaultdict(list)
    for order_id, domain, provider, prefix in (
        Mailbox.objects.filter(item__order_id__in={row[0] for row in rows})
        .exclude(status=MailboxStatus.CANCELLED)
        .values_list("item__order_id", "item__domain", "item__provider", "email_prefix")
    ):
        domain = domain.lower()
        live[order_id, domain].append((f"{prefix}@{domain}".lower(), provider))
    scheduled = []
    for (
        order_id,
        renewal_on,
        emails,
        domains,
        order_type,
        placed_at,
        created_at,
    ) in rows:
        chosen = {e.lower() for e in emails or []}
        whole = {d.lower() for d in domains or []}
        breakdown: dict[int, tuple[int, int]] = {}
        for (order, domain), mailboxes in live.items():
            if order != order_id:
                continue
            going = [
                provider
                for email, provider in mailboxes
                if email in chosen or domain in whole
            ]
            if going:
                provider = going[0]
                count, domains_gone = breakdown.get(provider, (0, 0))
                breakdown[provider] = (
                    count + len(going),
                    domains_gone + int(len(going) == len(mailboxes)),
                )
        prewarmed = order_type == OrderType.PRE_WARMED_UP
        pays_domains = order_type != OrderType.EXTRA_ACCOUNTS
        monthly, _yearly = schedule_breakdown_saving(
            prices=prices,
            prewarmed=prewarmed,
            pays_domains=pays_domains,
            breakdown=breakdown,
        )
        scheduled.append(
            _Scheduled(
                renewal_on=renewal_on,
                kind_prewarmed=prewarmed,
                bought=timezone.localtime(placed_at or created_at).date()
                if pays_domains
                else None,
                breakdown=breakdown,
                monthly_saving=monthly,
            )
        )
    return scheduled


# What the forecast reads of the live items: their counts and their unit prices.
Base = tuple[dict[Kind, _Live], dict[Kind, UnitPrice]]
# How long the dashboard keeps a base for an unchanged stamp (see `dashboard_forecast`).
BASE_SECONDS: Final = 600


def renewal_forecast(
    *, workspace: Workspace, now: datetime | None = None, base: Base | None = None
) -> Forecast:
    """The next 12 renewals of the workspace's live items, less the open schedules. `base`:
    the live counts and prices when already known (`dashboard_forecast`)."""
    today = timezone.localdate(now or timezone.now())
    dates = renewal_dates(today)
    live, prices = base if base is not None else _base(workspace)
    schedules = _open_schedules(workspace, dates[0], prices)
    months = []
    for renews_on in dates:
        # What the schedules due by this renewal take away, per provider and kind.
        gone_mailboxes: dict[Kind, int] = defaultdict(int)
        gone_domains: dict[Kind, int] = defaultdict(int)
        gone_yearly: dict[Kind, int] = defaultdict(int)
        for s in schedules:
            if s.renewal_on > renews_on:
                continue
            for provider, (mailboxes, domains) in s.breakdown.items():
                kind = (provider, s.kind_prewarmed)
                gone_mailboxes[kind] += mailboxes
                gone_domains[kind] += domains
                if (
                    s.bought is not None
                    and s.bought.month == renews_on.month
                    and s.bought.year < renews_on.year
                ):
                    gone_yearly[kind] += domains
        providers = []
        domains_total, domains_cost = 0, ZERO
        saving = ZERO
        for provider in Provider:
            mailboxes = monthly_domains = 0
            cost = ZERO
            for prewarmed in (False, True):
                kind = (provider, prewarmed)
                counts, price = live.get(kind, _Live()), prices[kind]
                have = max(counts.mailboxes - gone_mailboxes[kind], 0)
                mailboxes += have
                yearly_before = counts.yearly_on(renews_on)
                yearly = max(yearly_before - gone_yearly[kind], 0)
                domains_total += yearly
                domains_cost += yearly * price.domain_yearly
                saving += (yearly_before - yearly) * price.domain_yearly
                if price.per_domain:
                    domains = max(counts.domains - gone_domains[kind], 0)
                    monthly_domains += domains
                    cost += domains * price.monthly
                    saving += (counts.domains - domains) * price.monthly
                else:
                    cost += have * price.monthly
                    saving += (counts.mailboxes - have) * price.monthly
            providers.append(
                ProviderRenewal(provider, mailboxes, monthly_domains, cost)
            )
        months.append(
            MonthRenewal(
                renews_on=renews_on,
                providers=providers,
                domains=domains_total,
                domains_cost=domains_cost,
                scheduled_mailboxes=sum(gone_mailboxes.values()),
                scheduled_domains=sum(gone_domains.values()),
                scheduled_saving=saving,
            )
        )
    return Forecast(
        months=months,
        prices=prices,
        scheduled_monthly=sum((s.monthly_saving for s in schedules), ZERO),
        open_schedules=len(schedules),
        price_rows=[prices[k] for k in sorted(prices)],
    )


def _base(workspace: Workspace) -> Base:
    return _live_counts(workspace), unit_prices(workspace)


def dashboard_forecast(
    *,
    workspace: Workspace,
    bought: tuple[int, Decimal],
    mailboxes: Sequence[tuple[int, int, int]],
    now: datetime | None = None,
) -> Forecast:
    """The forecast for the dashboard's tile, without reading every live item per view.

    Counting the live domains by the month they were bought and finding the newest bill of
    each kind read every bought item: linear in the workspace's history, which the dashboard
    must not be (docs/performance.md). They change only when an order is bought or leaves
    the bought statuses, or mailboxes are cancelled, and each of those moves the running
    tallies the dashboard reads anyway: `bought` (orders bought, their monthly price) and
    `mailboxes` (provider, ready, waiting). So the counts and prices are kept in the cache
    under a stamp of those tallies and the day, and read again when the stamp changes; the
    open schedules are read every time (a few rows). Two moves that leave every tally exactly
    as it was would keep a base at most BASE_SECONDS (docs/renewals.md)."""
    today = timezone.localdate(now or timezone.now())
    # The workspace's creation time too: ids come back after a rolled-back test.
    stamp = repr(
        (workspace.created_at.isoformat(), today.isoformat(), bought, sorted(mailboxes))
    )
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:32]
    key = f"dfy:renewal-base:{workspace.pk}:{digest}"
    try:
        base: Base | None = cache.get(key)
    except CACHE_ERRORS:
        base = None
    if base is None:
        base = _base(workspace)
        try:
            cache.set(key, base, timeout=BASE_SECONDS)
        except CACHE_ERRORS:
            logger.warning("renewal forecast: the cache did not answer")
    return renewal_forecast(workspace=workspace, now=now, base=base)


def schedule_breakdown_saving(
    *,
    prices: dict[Kind, UnitPrice],
    prewarmed: bool,
    pays_domains: bool,
    breakdown: dict[int, tuple[int, int]],
) -> tuple[Decimal, Decimal]:
    """(monthly, yearly) saving of cancelling `breakdown` ({provider: (mailboxes, domains
    whose last mailbox goes)}) of one order, at the prices the forecast uses."""
    monthly = yearly = ZERO
    for provider, (mailboxes, domains) in breakdown.items():
        price = prices[provider, prewarmed]
        monthly += (domains if price.per_domain else mailboxes) * price.monthly
        if pays_domains:
            yearly += domains * price.domain_yearly
    return monthly, yearly


# --- the picker and the list of schedules -------------------------------------------------


@dataclass(frozen=True)
class RenewableDomain:
    item_id: int
    domain: str
    provider: Provider
    order_id: int
    order_name: str
    live: int


def renewable_domains(
    *, workspace: Workspace, query: str = "", limit: int = PICKER_LIMIT
) -> list[RenewableDomain]:
    """Live domains of bought orders, by name (containing `query`), with their live
    mailboxes: what the renewals page offers to cancel before the next renewal. One query."""
    rows = (
        OrderItem.objects.filter(
            order__workspace=workspace, order__status__in=BOUGHT_STATUSES
        )
        .filter(domain__icontains=query.strip())
        .annotate(
            live=Count(
                "mailboxes", filter=~Q(mailboxes__status=MailboxStatus.CANCELLED)
            )
        )
        .filter(live__gt=0)
        .values_list("pk", "domain", "provider", "order_id", "order__title", "live")
        .order_by("domain", "pk")[:limit]
    )
    return [
        RenewableDomain(
            pk,
            domain,
            Provider(provider),
            order_id,
            title.strip() or f"Untitled order #{order_id}",
            live,
        )
        for pk, domain, provider, order_id, title, live in rows
    ]


def workspace_schedules(workspace: Workspace) -> ScheduledCancellationQuerySet:
    """Open schedules first (soonest renewal first), then the newest finished ones."""
    return ScheduledCancellation.objects.in_workspace(workspace).select_related(
        "order", "scheduled_by", "approved_by", "unscheduled_by"
    )


def schedules_page(
    workspace: Workspace,
) -> tuple[list[ScheduledCancellation], list[ScheduledCancellation]]:
    """(open, the newest finished) schedules of the workspace. Two queries."""
    rows = workspace_schedules(workspace)
    open_rows = list(rows.open().order_by("renewal_on", "pk"))
    done = list(
        rows.exclude(pk__in=[s.pk for s in open_rows]).order_by("-created_at", "-pk")[
            :RECENT_SCHEDULES
        ]
    )
    return open_rows, done
