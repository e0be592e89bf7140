"""POST /dfy-email-account-orders: validate, quote, and (for real) charge and record an order.

Business-rule failures are not HTTP errors: the answer is a 200 with order_placed false, the
validation lists filled, and one order_error chosen by rules.ORDER_ERROR_PRECEDENCE.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from sandbox import domains as domain_rules
from sandbox.models import (
    Charge,
    DfyAccount,
    DomainOrder,
    PreWarmedDomain,
    SandboxWorkspace,
    TakenDomain,
)
from sandbox.pricing import Line, PricedLine, Quote, quote
from sandbox.rules import (
    DFY_TLDS,
    EMAIL_PREFIX,
    HOST_NAME,
    NAME_MAX_LENGTH,
    ORDER_ERROR_PRECEDENCE,
    PREWARMED_TLDS,
    PROVIDER_NAMES,
    REGISTRABLE_DOMAIN,
    Provider,
    provider_rule,
)
from sandbox.switches import Effective
from sandbox.timestamps import now_ms


@dataclass(frozen=True)
class Mailbox:
    prefix: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Item:
    domain: str
    provider: Provider
    forwarding_domain: str
    mailboxes: tuple[Mailbox, ...]


def parse_items(raw_items: Sequence[Mapping[str, Any]]) -> list[Item]:
    """Items from a body that already passed the schema. Domains are compared lower case;
    email_provider defaults to 1 as published, for every order type."""
    return [
        Item(
            domain=domain_rules.normalize(raw["domain"]),
            provider=Provider(int(raw.get("email_provider", 1))),
            forwarding_domain=domain_rules.normalize(raw.get("forwarding_domain", "")),
            mailboxes=tuple(
                Mailbox(
                    a["email_address_prefix"].strip(), a["first_name"], a["last_name"]
                )
                for a in raw.get("accounts", [])
            ),
        )
        for raw in raw_items
    ]


@dataclass
class Findings:
    """The validation lists of the response, each without duplicates, in request order."""

    unavailable_domains: list[str] = field(default_factory=list)
    blacklist_domains: list[str] = field(default_factory=list)
    blacklist_keywords: list[str] = field(default_factory=list)
    invalid_domains: list[str] = field(default_factory=list)
    invalid_forwarding_domains: list[str] = field(default_factory=list)
    invalid_accounts: list[dict[str, str]] = field(default_factory=list)
    missing_domain_orders: list[str] = field(default_factory=list)
    provider_mismatch_domains: list[str] = field(default_factory=list)
    unsupported_provider_domains: list[str] = field(default_factory=list)
    unavailable_email_providers: list[int] = field(default_factory=list)
    domains_without_accounts: list[str] = field(default_factory=list)

    def add(self, name: str, value: Any) -> None:
        values: list[Any] = getattr(self, name)
        if value not in values:
            values.append(value)

    def order_error(self) -> str | None:
        return next(
            (error for error, name in ORDER_ERROR_PRECEDENCE if getattr(self, name)),
            None,
        )

    def as_dict(self) -> dict[str, Any]:
        lists = {name: list(getattr(self, name)) for name in self.__dataclass_fields__}
        lists["unavailable_email_providers"] = sorted(self.unavailable_email_providers)
        return lists


@dataclass
class Planned:
    """One item as it would be recorded: the priced line plus the mailboxes to create."""

    item: Item
    line: Line
    mailboxes: tuple[Mailbox, ...]
    existing_order: DomainOrder | None = None


@dataclass
class Evaluation:
    order_type: str
    findings: Findings
    planned: list[Planned]

    @property
    def valid(self) -> bool:
        return self.findings.order_error() is None


def _account_problem(
    mailbox: Mailbox, *, seen: set[str], existing: set[str]
) -> str | None:
    for label, value in (
        ("First name", mailbox.first_name),
        ("Last name", mailbox.last_name),
    ):
        if not value.strip():
            return f"{label} is required"
        if len(value) > NAME_MAX_LENGTH or not value.isprintable():
            return f"{label} is too long or contains invalid characters"
    prefix = mailbox.prefix.lower()
    if not EMAIL_PREFIX.match(prefix):
        return "Email address prefix is invalid"
    if prefix in seen:
        return "Email address prefix is used twice on this domain"
    if prefix in existing:
        return "Email address already exists"
    return None


def _check_mailboxes(item: Item, findings: Findings, *, existing: set[str]) -> None:
    rule = provider_rule(item.provider)
    name = PROVIDER_NAMES[item.provider]
    room = rule.max_mailboxes - len(existing)
    seen: set[str] = set()
    accepted = 0
    for mailbox in item.mailboxes:
        reason = _account_problem(mailbox, seen=seen, existing=existing)
        if reason is None:
            # Only mailboxes that are fine otherwise use up the domain's room.
            accepted += 1
            if accepted > room:
                reason = (
                    f"{name} allows at most {rule.max_mailboxes} mailboxes per domain"
                )
        seen.add(mailbox.prefix.lower())
        if reason:
            findings.add("invalid_accounts", _invalid(item.domain, mailbox, reason))
    if len(existing) + len(item.mailboxes) < rule.min_mailboxes:
        bounds = (
            f"exactly {rule.min_mailboxes}"
            if rule.min_mailboxes == rule.max_mailboxes
            else f"{rule.min_mailboxes}-{rule.max_mailboxes}"
        )
        reason = (
            f"{name} needs {bounds} mailboxes per new domain, got {len(item.mailboxes)}"
        )
        findings.add(
            "invalid_accounts", _invalid(item.domain, item.mailboxes[0], reason)
        )


def _invalid(domain: str, mailbox: Mailbox, reason: str) -> dict[str, str]:
    return {
        "domain": domain,
        "first_name": mailbox.first_name,
        "last_name": mailbox.last_name,
        "email": f"{mailbox.prefix.lower()}@{domain}",
        "reason": reason,
    }


def evaluate(
    workspace: SandboxWorkspace,
    order_type: str,
    items: Sequence[Item],
    knobs: Effective,
) -> Evaluation:
    """Run every check on every item and plan what a real order would record. Reads only."""
    findings = Findings()
    names = [item.domain for item in items]
    keywords = domain_rules.restricted_keywords()
    unavailable = domain_rules.unavailable_domains(names)
    stock = (
        {}
        if knobs.empty_prewarmed_stock
        else PreWarmedDomain.objects.in_bulk(
            domain_rules.storable(names), field_name="domain"
        )
    )
    owned = (
        DomainOrder.objects.active()
        .filter(workspace=workspace)
        .in_bulk(domain_rules.storable(names), field_name="domain")
    )
    existing: dict[str, set[str]] = {name: set() for name in owned}
    for domain, email in (
        DfyAccount.objects.active()
        .filter(order__in=owned.values())
        .values_list("domain", "email")
    ):
        existing[domain].add(email.split("@", 1)[0])

    planned: list[Planned] = []
    seen: set[str] = set()
    for item in items:
        domain, provider = item.domain, item.provider
        if provider in knobs.unavailable_providers:
            findings.add("unavailable_email_providers", int(provider))
        tld = domain.rsplit(".", 1)[-1]
        allowed_tlds = {"dfy": DFY_TLDS, "pre_warmed_up": PREWARMED_TLDS}.get(
            order_type
        )
        well_formed = bool(REGISTRABLE_DOMAIN.match(domain)) and (
            allowed_tlds is None or tld in allowed_tlds
        )
        matched = domain_rules.keywords_in(domain, keywords) if well_formed else []
        if not well_formed or domain in seen:
            findings.add("invalid_domains", domain)
        elif matched:
            findings.add("blacklist_domains", domain)
            for keyword in matched:
                findings.add("blacklist_keywords", keyword)
        seen.add(domain)
        domain_ok = well_formed and not matched
        if item.forwarding_domain and (
            not HOST_NAME.match(item.forwarding_domain)
            or item.forwarding_domain == domain
        ):
            findings.add("invalid_forwarding_domains", item.forwarding_domain)

        mailboxes = item.mailboxes
        existing_order = None
        if order_type == "pre_warmed_up":
            offer = stock.get(domain)
            if domain_ok and offer is None:
                findings.add("unavailable_domains", domain)
            elif offer is not None and offer.account_type != provider:
                findings.add("provider_mismatch_domains", domain)
            mailboxes = (
                tuple(
                    Mailbox(*m)
                    for m in domain_rules.prewarmed_mailboxes(offer.mailbox_count)
                )
                if offer
                else ()
            )
        elif order_type == "extra_accounts":
            existing_order = owned.get(domain)
            if domain_ok and existing_order is None:
                findings.add("missing_domain_orders", domain)
            held = Provider(existing_order.email_provider) if existing_order else None
            # unsupported_provider is about the provider the domain already has (Microsoft);
            # asking for another provider than the domain's is a mismatch, whatever is asked.
            unsupported = (
                held is not None and not provider_rule(held).extra_accounts_allowed
            )
            mismatch = not unsupported and held is not None and held != provider
            if unsupported:
                findings.add("unsupported_provider_domains", domain)
            elif mismatch:
                findings.add("provider_mismatch_domains", domain)
            if item.forwarding_domain:
                # The domain exists already: its forwarding is changed through the domain
                # forwarding endpoints, not by this order. Refused rather than dropped.
                findings.add("invalid_forwarding_domains", item.forwarding_domain)
            if not mailboxes:
                findings.add("domains_without_accounts", domain)
            elif not unsupported and not mismatch:
                # Counts only mean something against the provider the domain really has.
                _check_mailboxes(item, findings, existing=existing.get(domain, set()))
        else:
            if domain_ok and domain in unavailable:
                findings.add("unavailable_domains", domain)
            if not mailboxes:
                findings.add("domains_without_accounts", domain)
            else:
                _check_mailboxes(item, findings, existing=set())

        planned.append(
            Planned(
                item=item,
                line=Line(
                    domain=domain,
                    provider=provider,
                    mailboxes=len(mailboxes),
                    domain_charged=order_type != "extra_accounts",
                    prewarmed=order_type == "pre_warmed_up",
                ),
                mailboxes=mailboxes,
                existing_order=existing_order,
            )
        )
    return Evaluation(order_type=order_type, findings=findings, planned=planned)


def _sorted_ids(count: int) -> list[uuid.UUID]:
    # Rows of one order share a timestamp and lists sort on (timestamp, id): ascending ids
    # keep them in request order.
    return sorted(uuid.uuid4() for _ in range(count))


def _record(workspace: SandboxWorkspace, evaluation: Evaluation, price: Quote) -> None:
    """Write a valid real order: domain rows, mailboxes, the taken registry, stock, the charge."""
    now = now_ms()
    prewarmed = evaluation.order_type == "pre_warmed_up"
    fresh = [plan for plan in evaluation.planned if plan.existing_order is None]
    new_orders = {
        plan.line.domain: DomainOrder(
            id=pk,
            workspace=workspace,
            domain=plan.line.domain,
            email_provider=plan.line.provider,
            forwarding_domain=plan.item.forwarding_domain,
            forwarding_mode="redirect" if plan.item.forwarding_domain else "",
            is_pre_warmed_up=prewarmed,
            timestamp_created=now,
        )
        for plan, pk in zip(fresh, _sorted_ids(len(fresh)), strict=True)
    }
    wanted = [
        (plan, mailbox) for plan in evaluation.planned for mailbox in plan.mailboxes
    ]
    accounts = [
        DfyAccount(
            id=pk,
            workspace=workspace,
            order=plan.existing_order or new_orders[plan.line.domain],
            domain=plan.line.domain,
            email=f"{mailbox.prefix.lower()}@{plan.line.domain}",
            email_provider=plan.line.provider,
            first_name=mailbox.first_name.strip(),
            last_name=mailbox.last_name.strip(),
            is_pre_warmed_up=prewarmed,
            password=secrets.token_urlsafe(12),
            timestamp_created=now,
        )
        for (plan, mailbox), pk in zip(wanted, _sorted_ids(len(wanted)), strict=True)
    ]
    # The unique domain columns turn a race with another workspace into an IntegrityError.
    TakenDomain.objects.bulk_create(
        [TakenDomain(domain=d, workspace=workspace) for d in new_orders]
    )
    DomainOrder.objects.bulk_create(new_orders.values())
    DfyAccount.objects.bulk_create(accounts)
    if prewarmed:
        PreWarmedDomain.objects.filter(domain__in=list(new_orders)).delete()
    if price.amount_charged > 0:
        Charge.objects.create(
            workspace=workspace,
            amount=price.amount_charged,
            domains=[p.line.domain for p in evaluation.planned],
        )


def _body(
    workspace: SandboxWorkspace,
    evaluation: Evaluation,
    price: Quote,
    *,
    simulation: bool,
    placed: bool,
    error: str | None,
    payment_failure_reason: str = "",
    cart_order_id: str = "",
) -> dict[str, Any]:
    card = workspace.has_payment_method
    body: dict[str, Any] = {
        "order_placed": placed,
        "order_is_valid": evaluation.valid,
        **evaluation.findings.as_dict(),
        "free_domains": price.free_domains,
        "number_of_domains_ordered": len(evaluation.planned),
        "number_of_accounts_ordered": sum(p.line.mailboxes for p in evaluation.planned),
        "price_per_account_per_month": price.price_per_account_per_month,
        "price_per_domain_per_month": price.price_per_domain_per_month,
        "price_per_domain_per_year": price.price_per_domain_per_year,
        "total_domains_price_per_year": price.total_domains_price_per_year,
        "total_accounts_price_per_month": price.total_accounts_price_per_month,
        "total_price_per_month": price.total_price_per_month,
        "total_price_per_year": price.total_price_per_year,
        "total_price": price.total_price,
        "total_discount": price.total_discount,
        "payment_method_last_4_digits": workspace.card_last4 if card else "",
        "payment_method_brand": workspace.card_brand if card else "",
        "payment_method_name_on_card": workspace.card_name if card else "",
        "simulation": simulation,
        "order_items": [
            _order_item(plan, priced)
            for plan, priced in zip(evaluation.planned, price.lines, strict=True)
        ],
    }
    if price.price_per_account_per_month_by_account_type is not None:
        body["price_per_account_per_month_by_account_type"] = (
            price.price_per_account_per_month_by_account_type
        )
    if error:
        body["order_error"] = error
    if payment_failure_reason:
        body["payment_failure_reason"] = payment_failure_reason
    if cart_order_id:
        # No checkout_url: Instantly returns it only to browser sessions, never to a key.
        body["checkout_required"] = True
        body["cart_order_id"] = cart_order_id
    return body


def _order_item(plan: Planned, priced: PricedLine) -> dict[str, Any]:
    item: dict[str, Any] = {
        "domain": plan.line.domain,
        "accounts": [
            {
                "email_address_prefix": m.prefix,
                "first_name": m.first_name,
                "last_name": m.last_name,
            }
            for m in plan.mailboxes
        ],
        "email_provider": int(plan.line.provider),
        "domain_price": priced.domain_price,
        "accounts_price": priced.accounts_price,
        "domain_monthly_price": priced.domain_monthly_price,
        "total_price": priced.total_price,
        "total_discount": priced.total_discount,
    }
    if plan.item.forwarding_domain:
        item["forwarding_domain"] = plan.item.forwarding_domain
    return item


def order_place(
    *, workspace: SandboxWorkspace, body: Mapping[str, Any], knobs: Effective
) -> dict[str, Any]:
    """Answer an order POST whose body passed the schema. With simulation it only reads; a
    real valid order is charged and recorded in one transaction, serialized per workspace."""
    order_type = str(body["order_type"])
    items = parse_items(body["items"])
    prewarmed = order_type == "pre_warmed_up"
    if body.get("simulation", False) is True:
        evaluation = evaluate(workspace, order_type, items, knobs)
        price = quote(
            [p.line for p in evaluation.planned], knobs.prices, prewarmed=prewarmed
        )
        return _body(
            workspace,
            evaluation,
            price,
            simulation=True,
            placed=False,
            error=evaluation.findings.order_error(),
        )
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                # Lock the workspace row so two real POSTs cannot both pass the checks.
                SandboxWorkspace.objects.select_for_update().only("pk").get(
                    pk=workspace.pk
                )
                evaluation = evaluate(workspace, order_type, items, knobs)
                price = quote(
                    [p.line for p in evaluation.planned],
                    knobs.prices,
                    prewarmed=prewarmed,
                )
                error = evaluation.findings.order_error()
                if error:
                    return _body(
                        workspace,
                        evaluation,
                        price,
                        simulation=False,
                        placed=False,
                        error=error,
                    )
                if not workspace.has_payment_method:
                    # No default card: Instantly holds the cart for a hosted checkout
                    # (2026-07). Nothing is recorded or charged; docs/instantly.md.
                    return _body(
                        workspace,
                        evaluation,
                        price,
                        simulation=False,
                        placed=False,
                        error=None,
                        cart_order_id=str(uuid.uuid4()),
                    )
                reason = knobs.payment_failure_reason
                if reason:
                    return _body(
                        workspace,
                        evaluation,
                        price,
                        simulation=False,
                        placed=False,
                        error="payment_failed",
                        payment_failure_reason=reason,
                    )
                _record(workspace, evaluation, price)
                return _body(
                    workspace,
                    evaluation,
                    price,
                    simulation=False,
                    placed=True,
                    error=None,
                )
        except IntegrityError:
            # Another workspace took a domain between our checks and our insert; checking
            # again reports it as unavailable. A second collision is a real fault.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
