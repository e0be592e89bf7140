"""The capacity planner's arithmetic: from "so many sends a day" to priced alternatives.

Pure: no database, no remote, no clock. The view hands in the prices (`orders.plan_prices`),
the workspace's times to ready (`orders.spend.provider_speeds`) and the pre-warmed stock
(`orders.finders.prewarmed_offers`); this module only counts. The reasoning behind each
default and each rounding is in docs/planning.md, "Capacity planner".

- Mailboxes per provider: its share of the target divided by what one mailbox may send a
  day, rounded up; so every alternative sends at least the target (unless the pre-warmed
  stock runs out, which the alternative then says).
- Domains honour Instantly's per-domain counts from `orders.rules.PROVIDER_RULES`: per-mailbox
  providers fill domains up to the most the builder offers (fewer domains, fewer yearly domain
  fees) and spread the mailboxes evenly; Microsoft, billed per domain, never goes below its
  minimum, so a small Microsoft share still buys that minimum.
- Money is what Instantly charges for exactly these items: due now is the first month plus
  a year of each domain, the identity Instantly documents for `total_price`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Final

from orders.rules import (
    DFY,
    MICROSOFT,
    PRE_WARMED_UP,
    PROVIDER_RULES,
    DraftItem,
    DraftMailbox,
)

ZERO: Final = Decimal("0.00")
CHEAPEST: Final = "cheapest"
FASTEST: Final = "fastest"
SHARES: Final = "shares"
MIXES: Final = (CHEAPEST, FASTEST, SHARES)
KINDS: Final = (DFY, PRE_WARMED_UP)
KIND_LABELS: Final = {DFY: "Done-for-you", PRE_WARMED_UP: "Pre-warmed"}

# Cold sends one mailbox may make a day, per provider (docs/planning.md, "Defaults"): Instantly
# recommends 30 per account for campaigns (help centre article 6248612), the low end of the
# 30-50 other vendors quote; no source advises more for Microsoft or AirMail.
DEFAULT_SENDS_PER_MAILBOX: Final[Mapping[int, int]] = dict.fromkeys(PROVIDER_RULES, 30)
MAX_SENDS_PER_MAILBOX: Final = 2_000  # Google Workspace's own daily ceiling
MAX_TARGET: Final = 1_000_000


@dataclass(frozen=True)
class UnitCost:
    """What one item of a provider costs: a month per mailbox, or per domain when
    `per_domain` (Microsoft); and a year per domain."""

    monthly: Decimal
    per_domain: bool
    domain_yearly: Decimal


@dataclass(frozen=True)
class StockOffer:
    """A pre-warmed domain Instantly offers now, with what its simulation said it holds."""

    domain: str
    provider: int
    mailboxes: int
    per_month: Decimal
    per_year: Decimal


@dataclass(frozen=True)
class Speed:
    """Median time from placing to ready of this workspace's orders of one provider."""

    median: timedelta
    orders: int
    text: str


@dataclass(frozen=True)
class PlanInputs:
    target: int
    sends: Mapping[int, int]  # per provider: sends per mailbox per day
    mix: str = CHEAPEST
    shares: Mapping[int, int] = field(
        default_factory=dict
    )  # percent, when mix is SHARES
    kinds: tuple[str, ...] = KINDS
    budget: Decimal | None = None  # a month


@dataclass(frozen=True)
class PlanLine:
    """One provider's part of an alternative: a mailbox count per domain, in order; for a
    pre-warmed alternative, the stock domains themselves."""

    provider: int
    counts: tuple[int, ...]
    domains: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return PROVIDER_RULES[self.provider].label

    @property
    def mailboxes(self) -> int:
        return sum(self.counts)

    @property
    def layout(self) -> str:
        """'4 × 5 mailboxes + 1 × 3', most mailboxes first."""
        groups: dict[int, int] = {}
        for count in self.counts:
            groups[count] = groups.get(count, 0) + 1
        return " + ".join(
            f"{n} × {count} mailbox{'es' if count != 1 else ''}"
            for count, n in sorted(groups.items(), reverse=True)
        )


@dataclass(frozen=True)
class Ready:
    provider: int
    speed: Speed | None

    @property
    def text(self) -> str:
        label = PROVIDER_RULES[self.provider].label
        if self.speed is None:
            return f"{label}: no history yet"
        orders = self.speed.orders
        return f"{label}: {self.speed.text} (median of {orders} order{'s' if orders != 1 else ''})"


@dataclass(frozen=True)
class Alternative:
    key: str  # stable id for the page and the "Create draft" form, e.g. "dfy-cheapest"
    kind: str
    mix_label: str
    lines: tuple[PlanLine, ...]
    sends_per_day: int
    target: int
    due_now: Decimal
    per_month: Decimal
    per_year: Decimal
    budget: Decimal | None
    ready: tuple[Ready, ...]
    notes: tuple[str, ...] = ()

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def domains(self) -> int:
        return sum(len(line.counts) for line in self.lines)

    @property
    def mailboxes(self) -> int:
        return sum(line.mailboxes for line in self.lines)

    @property
    def meets_target(self) -> bool:
        return self.sends_per_day >= self.target

    @property
    def fits_budget(self) -> bool | None:
        return None if self.budget is None else self.per_month <= self.budget

    @property
    def over_budget(self) -> Decimal:
        return self.per_month - self.budget if self.budget is not None else ZERO

    @property
    def slowest(self) -> Ready | None:
        """The provider that decides when the whole order is ready (unknown counts last)."""
        known = [r for r in self.ready if r.speed is not None]
        if len(known) < len(self.ready) or not known:
            return None
        return max(known, key=lambda r: r.speed.median if r.speed else timedelta(0))

    def draft_items(self, domains: Sequence[str] | None = None) -> list[DraftItem]:
        """The plan as the builder's items, with placeholder mailbox names: what the rules
        check (`orders.rules.check_draft`). Domain names are given, stock, or made up."""
        names = iter(domains or ())
        items = []
        number = 0
        for line in self.lines:
            for index, count in enumerate(line.counts):
                number += 1
                domain = (
                    line.domains[index]
                    if line.domains
                    else next(names, f"plan-domain-{number}.com")
                )
                mailboxes = (
                    ()
                    if self.kind == PRE_WARMED_UP
                    else tuple(
                        DraftMailbox("Plan", f"Person{k}", f"person{k}")
                        for k in range(1, count + 1)
                    )
                )
                items.append(DraftItem(domain, line.provider, "", mailboxes))
        return items


def provider_targets(target: int, shares: Mapping[int, int]) -> dict[int, int]:
    """Each provider's sends a day: its share of the target, rounded up (so they add up to at
    least the target). Providers with no share are left out."""
    return {
        p: math.ceil(target * share / 100)
        for p, share in sorted(shares.items())
        if share > 0
    }


def mailboxes_needed(sends: int, per_mailbox: int) -> int:
    return math.ceil(sends / per_mailbox) if sends > 0 else 0


def domain_counts(provider: int, mailboxes: int) -> tuple[int, ...]:
    """Mailboxes per domain for `mailboxes` of one provider under Instantly's rules: as few
    domains as the most per domain allows, the mailboxes spread evenly, none under the
    minimum (a small Microsoft share is rounded up to one full-minimum domain)."""
    if mailboxes <= 0:
        return ()
    rule = PROVIDER_RULES[provider]
    mailboxes = max(mailboxes, rule.min_mailboxes)
    domains = math.ceil(mailboxes / rule.max_mailboxes)
    base, extra = divmod(mailboxes, domains)
    return tuple(base + 1 if i < extra else base for i in range(domains))


def line_cost(line: PlanLine, unit: UnitCost) -> tuple[Decimal, Decimal]:
    """(a month, a year) for a DFY line."""
    domains = len(line.counts)
    monthly = unit.monthly * (domains if unit.per_domain else line.mailboxes)
    return monthly, unit.domain_yearly * domains


def first_year(alternative: Alternative) -> Decimal:
    """What an alternative costs over its first year: how "cheapest" compares them."""
    return alternative.per_month * 12 + alternative.per_year


class Planner:
    """Builds the alternatives for one set of inputs."""

    def __init__(
        self,
        inputs: PlanInputs,
        *,
        prices: Mapping[int, UnitCost],
        speeds: Mapping[int, Speed],
        stock: Sequence[StockOffer] = (),
    ) -> None:
        self.inputs = inputs
        self.prices = prices
        self.speeds = speeds
        self.stock = stock

    # --- DFY ---------------------------------------------------------------------------------

    def dfy(self, key: str, mix_label: str, shares: Mapping[int, int]) -> Alternative:
        lines = []
        for provider, sends in provider_targets(self.inputs.target, shares).items():
            needed = mailboxes_needed(sends, self.inputs.sends[provider])
            lines.append(PlanLine(provider, domain_counts(provider, needed)))
        return self._alternative(key, DFY, mix_label, lines)

    def _dfy_microsoft_bulk(self, remainder_provider: int) -> Alternative:
        """Full Microsoft domains for the bulk (one price for up to the most mailboxes), the
        rest on a per-mailbox provider: often the cheapest mix for large targets."""
        ms_rule = PROVIDER_RULES[MICROSOFT]
        per_ms = self.inputs.sends[MICROSOFT]
        needed = mailboxes_needed(self.inputs.target, per_ms)
        full = needed // ms_rule.max_mailboxes
        covered = full * ms_rule.max_mailboxes * per_ms
        rest = mailboxes_needed(
            self.inputs.target - covered, self.inputs.sends[remainder_provider]
        )
        lines = [PlanLine(MICROSOFT, (ms_rule.max_mailboxes,) * full)] if full else []
        if rest:
            lines.append(
                PlanLine(remainder_provider, domain_counts(remainder_provider, rest))
            )
        label = f"Microsoft + {PROVIDER_RULES[remainder_provider].label}"
        return self._alternative(f"dfy-ms-{remainder_provider}", DFY, label, lines)

    def dfy_candidates(self) -> list[Alternative]:
        singles = [
            self.dfy(f"dfy-{p}", f"All {rule.label}", {p: 100})
            for p, rule in PROVIDER_RULES.items()
        ]
        mixes = [
            self._dfy_microsoft_bulk(p)
            for p, rule in PROVIDER_RULES.items()
            if rule.billing_basis == "per_mailbox"
        ]
        return singles + [m for m in mixes if len(m.lines) > 1]

    # --- pre-warmed --------------------------------------------------------------------------

    def prewarmed(
        self, key: str, mix_label: str, order: Sequence[int], shares: Mapping[int, int]
    ) -> Alternative:
        """Stock domains, cheapest per send first, provider by provider in `order`; with
        `shares`, each provider fills only its share."""
        targets = (
            provider_targets(self.inputs.target, shares)
            if shares
            else dict.fromkeys(order, self.inputs.target)
        )
        picked: dict[int, list[StockOffer]] = {}
        left = self.inputs.target
        for provider in order:
            if provider not in targets:
                continue
            want = targets[provider] if shares else left
            per_mailbox = self.inputs.sends[provider]
            offers = sorted(
                (o for o in self.stock if o.provider == provider and o.mailboxes > 0),
                key=lambda o: (o.per_month / o.mailboxes, o.domain),
            )
            got = 0
            for offer in offers:
                if got >= want:
                    break
                picked.setdefault(provider, []).append(offer)
                got += offer.mailboxes * per_mailbox
            left -= got
            if not shares and left <= 0:
                break
        lines = [
            PlanLine(
                p, tuple(o.mailboxes for o in offers), tuple(o.domain for o in offers)
            )
            for p, offers in sorted(picked.items())
        ]
        chosen = [o for offers in picked.values() for o in offers]
        return self._alternative(
            key,
            PRE_WARMED_UP,
            mix_label,
            lines,
            money=(
                sum((o.per_month for o in chosen), ZERO),
                sum((o.per_year for o in chosen), ZERO),
            ),
        )

    # --- together ----------------------------------------------------------------------------

    def _alternative(
        self,
        key: str,
        kind: str,
        mix_label: str,
        lines: Sequence[PlanLine],
        money: tuple[Decimal, Decimal] | None = None,
    ) -> Alternative:
        if money is None:
            per_month, per_year = ZERO, ZERO
            for line in lines:
                monthly, yearly = line_cost(line, self.prices[line.provider])
                per_month += monthly
                per_year += yearly
        else:
            per_month, per_year = money
        sends = sum(line.mailboxes * self.inputs.sends[line.provider] for line in lines)
        notes = []
        if kind == PRE_WARMED_UP and sends < self.inputs.target:
            notes.append(
                f"The pre-warmed stock covers only {sends:,} of the {self.inputs.target:,} "
                "sends a day."
                if lines
                else "No pre-warmed stock fits this mix right now."
            )
        return Alternative(
            key=key,
            kind=kind,
            mix_label=mix_label,
            lines=tuple(lines),
            sends_per_day=sends,
            target=self.inputs.target,
            due_now=per_month + per_year,
            per_month=per_month,
            per_year=per_year,
            budget=self.inputs.budget,
            ready=tuple(
                Ready(line.provider, self.speeds.get(line.provider)) for line in lines
            ),
            notes=tuple(notes),
        )

    def fastest_order(self) -> list[int]:
        """Providers by median time to ready, those without history last (in code order)."""
        return sorted(
            PROVIDER_RULES,
            key=lambda p: (
                p not in self.speeds,
                self.speeds[p].median if p in self.speeds else timedelta(0),
                p,
            ),
        )

    def chosen(self, kind: str) -> Alternative:
        """The alternative the inputs ask for, in one kind."""
        mix = self.inputs.mix
        if mix == SHARES:
            label = " / ".join(
                f"{PROVIDER_RULES[p].label} {s}%"
                for p, s in sorted(self.inputs.shares.items())
                if s > 0
            )
            if kind == DFY:
                return self.dfy(f"{kind}-shares", label, self.inputs.shares)
            return self.prewarmed(
                f"{kind}-shares", label, sorted(self.inputs.shares), self.inputs.shares
            )
        if mix == FASTEST and self.speeds:
            fastest = self.fastest_order()
            label = f"Fastest to ready ({PROVIDER_RULES[fastest[0]].label})"
            if kind == DFY:
                return self.dfy(f"{kind}-fastest", label, {fastest[0]: 100})
            return self.prewarmed(f"{kind}-fastest", label, fastest, {})
        label = "Cheapest"
        if mix == FASTEST:
            label = "Cheapest (no history yet to rank by speed)"
        if kind == DFY:
            best = min(
                self.dfy_candidates(), key=lambda a: (first_year(a), a.domains, a.key)
            )
            return replace(
                best, key=f"{kind}-cheapest", mix_label=f"{label}: {best.mix_label}"
            )
        return self.prewarmed(
            f"{kind}-cheapest", label, self._cheapest_stock_order(), {}
        )

    def _cheapest_stock_order(self) -> list[int]:
        def cost_per_send(provider: int) -> Decimal:
            offers = [o for o in self.stock if o.provider == provider and o.mailboxes]
            if not offers:
                return Decimal("Infinity")
            return min(
                o.per_month / (o.mailboxes * self.inputs.sends[provider])
                for o in offers
            )

        return sorted(PROVIDER_RULES, key=lambda p: (cost_per_send(p), p))

    def alternatives(self) -> list[Alternative]:
        """The chosen mix first for each kind, then the other provider mixes (DFY only: the
        pre-warmed stock decides its own providers), without repeating an identical plan."""
        result: list[Alternative] = []
        seen: set[tuple[str, tuple[PlanLine, ...]]] = set()

        def add(alternative: Alternative) -> None:
            signature = (alternative.kind, alternative.lines)
            if alternative.lines and signature not in seen:
                seen.add(signature)
                result.append(alternative)

        for kind in self.inputs.kinds:
            chosen = self.chosen(kind)
            if kind == PRE_WARMED_UP and not chosen.lines:
                result.append(chosen)  # says that the stock is empty for this mix
            add(chosen)
        if DFY in self.inputs.kinds:
            for alternative in sorted(
                self.dfy_candidates(), key=lambda a: (first_year(a), a.key)
            ):
                add(alternative)
        return result


def draft_limit_problem(
    alternative: Alternative, max_domains: int, max_mailboxes: int
) -> str:
    """Why the alternative cannot be one draft (the builder's limits), or ""."""
    if alternative.domains > max_domains:
        return (
            f"{alternative.domains:,} domains: a draft holds at most {max_domains:,}; "
            "split the target over several orders."
        )
    if alternative.kind == DFY and alternative.mailboxes > max_mailboxes:
        return (
            f"{alternative.mailboxes:,} mailboxes: a draft holds at most {max_mailboxes:,}; "
            "split the target over several orders."
        )
    return ""


def plan(
    inputs: PlanInputs,
    *,
    prices: Mapping[int, UnitCost],
    speeds: Mapping[int, Speed],
    stock: Sequence[StockOffer] = (),
) -> list[Alternative]:
    """Every alternative for `inputs`, the chosen mix first (docs/planning.md)."""
    return Planner(inputs, prices=prices, speeds=speeds, stock=stock).alternatives()
