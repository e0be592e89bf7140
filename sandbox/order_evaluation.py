"""The checks of an order POST: its items as parsed, every rule run on every item, and the
plan of what a real order would record. Reads only.

Business-rule failures are findings, not errors: each lands in one of the response's
validation lists, and `Findings.order_error` picks the one order_error by
rules.ORDER_ERROR_PRECEDENCE. `sandbox/placement.py` answers (and records) from the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox import domains as domain_rules
from sandbox.models import DfyAccount, DomainOrder, PreWarmedDomain, SandboxWorkspace
from sandbox.pricing import Line
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
