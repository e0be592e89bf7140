"""The DFY price quote, in Decimal, following the field descriptions of the published schema.

- item accounts_price: per-mailbox price x mailboxes (Google, AirMail), or the flat monthly
  Microsoft price per domain;
- item domain_price: the yearly domain price; 0 for promotion-free domains and for
  extra_accounts (the domain is already paid); pre-warmed domains pay it like new ones;
- total_price = total_accounts_price_per_month + total_domains_price_per_year, exactly the
  documented identity; a promotion's discount is reported beside it in total_discount (order
  and item), never taken off total_price. The card is charged total_price - total_discount
  (our reading; docs/instantly.md);
- price_per_account_per_month_by_account_type appears only when the order's per-mailbox
  items carry different prices, as published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sandbox.rules import Provider, provider_rule
from sandbox.switches import Prices

CENT = Decimal("0.01")
ZERO = Decimal("0")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    domain: str
    provider: Provider
    mailboxes: int
    domain_charged: bool
    prewarmed: bool


@dataclass(frozen=True)
class PricedLine:
    line: Line
    domain_price: Decimal
    accounts_price: Decimal
    domain_monthly_price: Decimal | None
    total_discount: Decimal
    total_price: Decimal


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    free_domains: list[str]
    price_per_account_per_month: Decimal | None
    # None when the order does not mix mailbox prices: the field is then left out.
    price_per_account_per_month_by_account_type: dict[str, Decimal] | None
    price_per_domain_per_month: Decimal | None
    price_per_domain_per_year: Decimal
    total_accounts_price_per_month: Decimal
    total_domains_price_per_year: Decimal
    total_discount: Decimal

    @property
    def total_price_per_month(self) -> Decimal:
        return self.total_accounts_price_per_month

    @property
    def total_price_per_year(self) -> Decimal:
        return self.total_domains_price_per_year

    @property
    def total_price(self) -> Decimal:
        return self.total_accounts_price_per_month + self.total_domains_price_per_year

    @property
    def amount_charged(self) -> Decimal:
        return self.total_price - self.total_discount


def mailbox_price(prices: Prices, provider: Provider, *, prewarmed: bool) -> Decimal:
    """Monthly price of one mailbox of a per-mailbox provider."""
    if prewarmed:
        return prices.prewarmed_per_month
    return (
        prices.airmail_per_month
        if provider is Provider.AIRMAIL
        else prices.google_per_month
    )


def quote(lines: Sequence[Line], prices: Prices, *, prewarmed: bool) -> Quote:
    free_left = prices.free_domain_count
    free_domains: list[str] = []
    priced: list[PricedLine] = []
    per_account_prices: dict[Provider, Decimal] = {}
    for line in lines:
        domain_price = prices.domain_per_year if line.domain_charged else ZERO
        if domain_price and (line.domain in prices.free_domains or free_left > 0):
            if line.domain not in prices.free_domains:
                free_left -= 1
            domain_price = ZERO
            free_domains.append(line.domain)
        monthly: Decimal | None = None
        if provider_rule(line.provider).billed_per_domain:
            monthly = prices.microsoft_per_domain_per_month
            accounts_price = monthly
        else:
            unit = mailbox_price(prices, line.provider, prewarmed=line.prewarmed)
            per_account_prices[line.provider] = unit
            accounts_price = unit * line.mailboxes
        domain_price, accounts_price = money(domain_price), money(accounts_price)
        discount = money(
            (domain_price + accounts_price) * prices.discount_percent / 100
        )
        priced.append(
            PricedLine(
                line=line,
                domain_price=domain_price,
                accounts_price=accounts_price,
                domain_monthly_price=None if monthly is None else money(monthly),
                total_discount=discount,
                total_price=domain_price + accounts_price,
            )
        )
    return Quote(
        lines=priced,
        free_domains=free_domains,
        price_per_account_per_month=money(next(iter(per_account_prices.values())))
        if len(per_account_prices) == 1
        else None,
        price_per_account_per_month_by_account_type={
            str(int(p)): money(unit) for p, unit in sorted(per_account_prices.items())
        }
        if len(set(per_account_prices.values())) > 1
        else None,
        price_per_domain_per_month=money(prices.microsoft_per_domain_per_month)
        if any(p.domain_monthly_price is not None for p in priced)
        else None,
        price_per_domain_per_year=money(prices.domain_per_year),
        total_accounts_price_per_month=sum((p.accounts_price for p in priced), ZERO),
        total_domains_price_per_year=sum((p.domain_price for p in priced), ZERO),
        total_discount=sum((p.total_discount for p in priced), ZERO),
    )
