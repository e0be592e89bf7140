"""Where the capacity planner's figures come from: prices, pre-warmed stock, times to ready.

Prices must be what the quote of the created draft will say (docs/planning.md, "Pricing"), so
they come from Instantly's own simulation: one simulated order of one domain per provider
(nothing is bought) tells the price of a mailbox, a Microsoft domain and a domain year, as
they are for this workspace today. Pre-warmed stock is priced the same way by the finder's
simulation of the listed domains. Both answers are kept in the cache for a few minutes, so
typing in the planner asks Instantly nothing. When Instantly cannot be asked (no key, a
refusal, a timeout), the planner falls back to the renewal forecast's prices (the newest
order's bill, else the list price) and says the quote will confirm them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.core.cache import cache
from django.utils import timezone

from orders import (
    capacity_plan,
    finders,
    instantly,
    instantly_keys,
    quotes,
    renewals,
    spend,
)
from orders.builder_forms import MAX_DRAFT_DOMAINS, MAX_DRAFT_MAILBOXES
from orders.capacity_plan import Speed, StockOffer, UnitCost
from orders.models import OrderType, Workspace
from orders.rules import PRE_WARMED_UP, PROVIDER_RULES

logger = logging.getLogger(__name__)

PRICES_SECONDS: Final = 600
STOCK_SECONDS: Final = 60
# Stock domains the planner prices at once (one simulation): ~1,000 pre-warmed mailboxes.
STOCK_PRICED: Final = 300


@dataclass(frozen=True)
class PriceSheet:
    prices: dict[int, UnitCost]
    # Instantly's simulation, or the fallback's words ("list price", …).
    source: str
    exact: bool


@dataclass(frozen=True)
class StockSheet:
    offers: list[StockOffer]
    problem: str = ""


def _key(kind: str, workspace: Workspace) -> str:
    # The workspace's creation time too: ids come back after a rolled-back test.
    stamp = hashlib.sha256(workspace.created_at.isoformat().encode()).hexdigest()[:16]
    return f"dfy:plan-{kind}:{workspace.pk}:{stamp}"


def _cached(key: str) -> object:
    try:
        return cache.get(key)
    except quotes.CACHE_ERRORS:  # a cache outage only costs a remote call
        logger.warning("planner: the cache did not answer")
        return None


def _remember(key: str, value: object, seconds: int) -> None:
    try:
        cache.set(key, value, timeout=seconds)
    except quotes.CACHE_ERRORS:
        logger.warning("planner: the cache did not answer; nothing remembered")


def _probe_payload() -> dict[str, object]:
    """One domain per provider at its least count. The names only need to be well formed:
    a simulation prices every item, available or not."""
    items = []
    for provider, rule in PROVIDER_RULES.items():
        items.append(
            {
                "domain": f"planner-price-{provider}.com",
                "email_provider": provider,
                "accounts": [
                    {
                        "email_address_prefix": f"plan{n}",
                        "first_name": "Plan",
                        "last_name": f"Price{n}",
                    }
                    for n in range(1, rule.min_mailboxes + 1)
                ],
            }
        )
    return {"order_type": OrderType.DFY, "items": items}


def _from_simulation(result: instantly.OrderResult) -> dict[int, UnitCost] | None:
    found: dict[int, UnitCost] = {}
    free = set(result.free_domains)
    for item in result.order_items:
        rule = PROVIDER_RULES.get(item.email_provider)
        if rule is None or not item.accounts:
            continue
        per_domain = rule.billing_basis == "per_domain"
        accounts = quotes.cents(item.accounts_price)
        monthly = (
            accounts if per_domain else quotes.cents(accounts / len(item.accounts))
        )
        # A promotion's free domain says nothing of the price of the next one.
        yearly = (
            result.price_per_domain_per_year
            if item.domain in free
            else item.domain_price
        )
        found[item.email_provider] = UnitCost(monthly, per_domain, quotes.cents(yearly))
    return found if set(found) == set(PROVIDER_RULES) else None


def _fallback(workspace: Workspace) -> PriceSheet:
    units = renewals.unit_prices(workspace)
    prices = {}
    sources = set()
    for provider in PROVIDER_RULES:
        unit = units[provider, False]
        prices[provider] = UnitCost(unit.monthly, unit.per_domain, unit.domain_yearly)
        sources.add(unit.source_words)
    return PriceSheet(prices, " and ".join(sorted(sources)), exact=False)


def planner_prices(*, workspace: Workspace) -> PriceSheet:
    """DFY prices per provider, from Instantly's simulation (cached), else the fallback."""
    key = _key("prices", workspace)
    cached = _cached(key)
    if isinstance(cached, dict):
        return PriceSheet(cached, "Instantly's simulation", exact=True)
    try:
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            result = client.simulate_order(_probe_payload())
    except (instantly_keys.InstantlyKeyMissing, instantly.InstantlyError) as exc:
        logger.info("planner prices not simulated: %s", type(exc).__name__)
        return _fallback(workspace)
    prices = _from_simulation(result)
    if prices is None:
        return _fallback(workspace)
    _remember(key, prices, PRICES_SECONDS)
    return PriceSheet(prices, "Instantly's simulation", exact=True)


def planner_stock(*, workspace: Workspace) -> StockSheet:
    """The pre-warmed domains Instantly offers now, each priced (cached for a minute)."""
    key = _key("stock", workspace)
    cached = _cached(key)
    if isinstance(cached, list):
        return StockSheet(cached)
    found = finders.prewarmed_offers(workspace=workspace, priced=STOCK_PRICED)
    if "problem" in found:
        return StockSheet([], str(found["problem"]))
    offers = [
        StockOffer(
            domain=str(row["domain"]),
            provider=int(row["provider"]),
            mailboxes=row["price"].mailboxes,
            per_month=row["price"].per_month,
            per_year=row["price"].per_year,
        )
        for row in found["stock"]
        if row["price"] is not None and row["provider"] in PROVIDER_RULES
    ]
    _remember(key, offers, STOCK_SECONDS)
    return StockSheet(offers)


def planner_speeds(
    *, workspace: Workspace, now: datetime | None = None
) -> dict[int, Speed]:
    """The dashboard's medians of time to ready per provider (same months, same sample)."""
    since = datetime.combine(
        spend.month_starts(now or timezone.now())[0],
        datetime.min.time(),
        tzinfo=timezone.get_current_timezone(),
    )
    return {
        int(s.provider): Speed(s.median, s.orders, s.median_text)
        for s in spend.provider_speeds(workspace, since)
    }


@dataclass(frozen=True)
class PlanRow:
    alternative: capacity_plan.Alternative
    limit: str  # why it cannot be one draft, or ""


@dataclass(frozen=True)
class PlanView:
    """Everything the planner page shows for one set of inputs."""

    alternatives: list[capacity_plan.Alternative]
    prices: PriceSheet
    stock: StockSheet | None  # None when pre-warmed was not asked for
    rows: list[PlanRow]


def plan_for(*, workspace: Workspace, inputs: capacity_plan.PlanInputs) -> PlanView:
    prices = planner_prices(workspace=workspace)
    stock = (
        planner_stock(workspace=workspace) if PRE_WARMED_UP in inputs.kinds else None
    )
    alternatives = capacity_plan.plan(
        inputs,
        prices=prices.prices,
        speeds=planner_speeds(workspace=workspace),
        stock=stock.offers if stock else (),
    )
    rows = [
        PlanRow(
            a,
            capacity_plan.draft_limit_problem(
                a, MAX_DRAFT_DOMAINS, MAX_DRAFT_MAILBOXES
            ),
        )
        for a in alternatives
    ]
    return PlanView(alternatives, prices, stock, rows)
