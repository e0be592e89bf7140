"""The bill: what an order costs per domain, in total, and when the money moves.

Every amount comes from Instantly's own answer (a quote or the real order): the per-item
prices in `order_items` and the totals. Nothing is priced from a local table, so a price or
rule change at Instantly shows here without a code change (docs/instantly.md, "Billing").
The words about when money moves say only what Instantly documents, and say so where it
documents nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from orders import instantly
from orders.models import MailboxStatus, Order, Provider
from orders.rules import PROVIDER_RULES

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

RENEWAL_WORDS = (
    "Instantly renews DFY domains and mailboxes on the 15th of each month, billed apart "
    "from the workspace's Instantly plan; it does not document whether the first month "
    "is prorated."
)
UNNAMED_CARD = "the workspace's card on file at Instantly"


def money(amount: Decimal | None) -> Decimal:
    return (amount or Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)


def dollars(amount: Decimal) -> str:
    return f"${money(amount):,.2f}"


@dataclass(frozen=True)
class BillLine:
    """One domain of the order, priced by Instantly."""

    domain: str
    provider: int
    mailboxes: int
    domain_per_year: Decimal
    domain_free: bool
    # Microsoft is billed per domain each month; the others per mailbox.
    per_domain: bool
    per_month: Decimal
    discount: Decimal
    due_now: Decimal

    @property
    def provider_label(self) -> str:
        return (
            Provider(self.provider).label
            if self.provider in Provider.values
            else f"provider {self.provider}"
        )

    @property
    def mailbox_each(self) -> Decimal | None:
        """The monthly price of one mailbox (per-mailbox providers with mailboxes)."""
        if self.per_domain or not self.mailboxes:
            return None
        return money(self.per_month / self.mailboxes)

    def monthly_for(self, live_mailboxes: int) -> Decimal:
        """What this domain costs a month with only `live_mailboxes` left."""
        if live_mailboxes <= 0:
            return ZERO
        if self.per_domain:
            return self.per_month
        each = self.mailbox_each
        return money(each * live_mailboxes) if each is not None else self.per_month


@dataclass(frozen=True)
class Bill:
    lines: tuple[BillLine, ...]
    due_now: Decimal
    per_month: Decimal
    per_year: Decimal
    discount: Decimal
    card: str  # "Visa ····4242", or "" when Instantly did not name the card
    order_type: str

    @property
    def lines_due_now(self) -> Decimal:
        return sum((line.due_now for line in self.lines), ZERO)

    @property
    def adds_up(self) -> bool:
        """Whether the per-domain lines add up to Instantly's total (they should)."""
        return self.lines_due_now == self.due_now

    @property
    def mailboxes(self) -> int:
        return sum(line.mailboxes for line in self.lines)

    @property
    def payer(self) -> str:
        return self.card or UNNAMED_CARD

    def charge_words(self, *, placed: bool = False) -> str:
        """When and where the money moves, in one sentence."""
        when = "was placed" if placed else "is placed"
        text = f"{dollars(self.due_now)} charged to {self.payer} when the order {when}"
        recurring = []
        if self.per_month:
            recurring.append(f"{dollars(self.per_month)} a month")
        if self.per_year:
            recurring.append(f"{dollars(self.per_year)} a year for the domains")
        if recurring:
            text += ", then " + " and ".join(recurring)
        return text + "."


def bill_from_result(result: instantly.OrderResult, *, order_type: str) -> Bill:
    """The bill of one Instantly answer. Due now is Instantly's `total_price`, documented as
    the month part plus the year part. A promotion comes in `total_discount` beside it, and
    Instantly does not say whether the card is then charged less (docs/instantly.md,
    "Billing"): the discount is shown as its own line and the full total counts everywhere
    (approval limits, budget, bill), so nobody approves less than Instantly may charge."""
    free = set(result.free_domains)
    lines = []
    for item in result.order_items:
        rule = PROVIDER_RULES.get(item.email_provider)
        per_domain = item.domain_monthly_price is not None or (
            rule is not None and rule.billing_basis == "per_domain"
        )
        lines.append(
            BillLine(
                domain=item.domain,
                provider=item.email_provider,
                mailboxes=len(item.accounts),
                domain_per_year=money(item.domain_price),
                domain_free=item.domain in free,
                per_domain=per_domain,
                per_month=money(item.accounts_price),
                discount=money(item.total_discount),
                due_now=money(item.total_price),
            )
        )
    card = ""
    if result.payment_method_brand and result.payment_method_last_4_digits:
        card = (
            f"{result.payment_method_brand} ····{result.payment_method_last_4_digits}"
        )
    per_month, per_year = (
        money(result.total_price_per_month),
        money(result.total_price_per_year),
    )
    return Bill(
        lines=tuple(lines),
        due_now=money(result.total_price),
        per_month=per_month,
        per_year=per_year,
        discount=money(result.total_discount),
        card=card,
        order_type=order_type,
    )


def bill_from_text(text: str, *, order_type: str) -> Bill | None:
    try:
        result = instantly.parse_order_result(text)
    except instantly.InstantlyError:
        return None
    return bill_from_result(result, order_type=order_type)


def order_bill(order: Order) -> Bill | None:
    """The bill of a submitted order: Instantly's answer to the real order when there is
    one (what was charged), else the approved quote."""
    if order.placement_response:
        bill = bill_from_text(order.placement_response, order_type=order.order_type)
        if bill is not None and bill.lines:
            return bill
    quote = order.approved_quote
    if quote is None:
        return None
    return bill_from_text(quote.response_body, order_type=order.order_type)


@dataclass(frozen=True)
class CurrentCost:
    """The order's monthly cost now that some mailboxes are cancelled."""

    per_month: Decimal
    was_per_month: Decimal
    live: Mapping[str, int]

    @property
    def changed(self) -> bool:
        return self.per_month != self.was_per_month


def current_cost(bill: Bill, live: Mapping[str, int]) -> CurrentCost:
    """`live` maps each domain to its mailboxes that are not cancelled; a domain it does not
    list (no mailbox known yet, e.g. pre-warmed ones before Instantly lists them) keeps its
    full price."""
    per_month = sum(
        (
            line.monthly_for(live[line.domain.lower()])
            if line.domain.lower() in live
            else line.per_month
            for line in bill.lines
        ),
        ZERO,
    )
    return CurrentCost(per_month=per_month, was_per_month=bill.per_month, live=live)


def live_mailboxes(order: Order) -> dict[str, int]:
    """Mailboxes not cancelled, per domain (lower case) that has any mailbox row."""
    counts: dict[str, int] = {}
    for domain, status in order.items.values_list("domain", "mailboxes__status"):
        if not status:  # an item without mailboxes (the join gives NULL)
            continue
        key = domain.lower()
        counts[key] = counts.get(key, 0) + (status != MailboxStatus.CANCELLED)
    return counts


@dataclass(frozen=True)
class BillingStop:
    """What stops being billed when these mailboxes of one domain are cancelled."""

    domain: str
    per_month: Decimal
    domain_per_year: Decimal
    note: str


def billing_stops(
    bill: Bill | None, *, domain: str, cancelled: int, left: int
) -> BillingStop:
    line = next(
        (x for x in (bill.lines if bill else ()) if x.domain.lower() == domain.lower()),
        None,
    )
    if line is None:
        return BillingStop(
            domain, ZERO, ZERO, "This order's bill does not list the domain."
        )
    domain_ends = left == 0
    if line.per_domain:
        stops = line.per_month if domain_ends else ZERO
    else:
        each = line.mailbox_each or ZERO
        stops = money(each * cancelled)
    note = ""
    if line.per_domain and not domain_ends:
        note = (
            f"{line.provider_label} is billed per domain: its {dollars(line.per_month)} "
            "a month stops only with the domain's last mailbox."
        )
    return BillingStop(
        domain=domain,
        per_month=stops,
        domain_per_year=line.domain_per_year if domain_ends else ZERO,
        note=note,
    )


def total_stops(stops: Iterable[BillingStop]) -> Decimal:
    return sum((s.per_month for s in stops), ZERO)
