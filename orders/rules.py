"""Local order rules: one table, and a checker that gives the order builder instant feedback.

Everything here is advisory. Instantly's simulation is the authority on what can be bought,
so checks return `Finding`s with a severity instead of raising, and nothing here may stop a
quote from being requested. "error" means Instantly's published rules say the order would be
refused; "warning" means it might be, or that something is unusual enough to look at.

The module is pure Python (no Django imports) so forms, services and tests can use it
anywhere. Provider codes and order types repeat `orders.models.Provider` / `OrderType`; a test
keeps the two in step.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from orders.domains import (
    TldPolicy,
    domain_problem,
    normalise_domain,
    shorten,
    show_char,
)

GOOGLE: Final = 1
AIRMAIL: Final = 2
MICROSOFT: Final = 3

DFY: Final = "dfy"
PRE_WARMED_UP: Final = "pre_warmed_up"
EXTRA_ACCOUNTS: Final = "extra_accounts"

PREFIX_MAX_LENGTH: Final = 64  # RFC 5321 local-part limit; also Mailbox.email_prefix
NAME_MAX_LENGTH: Final = 100  # Mailbox.first_name / last_name

Severity = Literal["error", "warning"]
Where = Literal["order", "domain", "mailbox"]
BillingBasis = Literal["per_mailbox", "per_domain"]


@dataclass(frozen=True)
class ProviderRule:
    code: int
    label: str
    min_mailboxes: int  # per domain, on a new domain
    max_mailboxes: int  # what the builder offers and fills
    # The most Instantly's newest published schema accepts. Counts above max_mailboxes but
    # within this only warn: the simulation may well accept them.
    accepted_max: int
    billing_basis: BillingBasis
    extra_accounts_allowed: bool

    @property
    def billing(self) -> str:
        return (
            "per mailbox, monthly"
            if self.billing_basis == "per_mailbox"
            else "per domain, monthly"
        )

    @property
    def count_text(self) -> str:
        if self.min_mailboxes == self.max_mailboxes:
            return f"exactly {self.min_mailboxes} mailboxes"
        return f"{self.min_mailboxes}–{self.max_mailboxes} mailboxes"

    @property
    def rule(self) -> str:
        """The one-line rule shown next to the provider choice."""
        unit = "mailbox" if self.billing_basis == "per_mailbox" else "domain"
        text = (
            f"{self.label}: {self.count_text} per domain, billed per {unit} each month"
        )
        if not self.extra_accounts_allowed:
            text += "; no extra mailboxes can be added later"
        return text


PROVIDER_RULES: Final[Mapping[int, ProviderRule]] = MappingProxyType(
    {
        GOOGLE: ProviderRule(
            GOOGLE, "Google", 1, 5, 5, "per_mailbox", extra_accounts_allowed=True
        ),
        AIRMAIL: ProviderRule(
            AIRMAIL, "AirMail", 1, 5, 5, "per_mailbox", extra_accounts_allowed=True
        ),
        # 50-100 mailboxes per new domain, one price per domain (Instantly's schema of
        # 2026-08; the "exactly 50" of 2026-05..07 is superseded). The builder's bundle fills
        # the minimum; anything up to 100 costs the same.
        MICROSOFT: ProviderRule(
            MICROSOFT,
            "Microsoft",
            50,
            100,
            100,
            "per_domain",
            extra_accounts_allowed=False,
        ),
    }
)


@dataclass(frozen=True)
class OrderTypeRule:
    code: str
    tld_policy: TldPolicy
    # extra_accounts names domains bought earlier; Instantly knows which those are, we only
    # guess, so a surprising TLD there is a warning.
    tld_severity: Severity
    takes_mailboxes: (
        bool  # pre-warmed domains come with their mailboxes; any sent are ignored
    )


ORDER_TYPE_RULES: Final[Mapping[str, OrderTypeRule]] = MappingProxyType(
    {
        DFY: OrderTypeRule(
            DFY, TldPolicy(frozenset({"com", "org"}), "new domains"), "error", True
        ),
        PRE_WARMED_UP: OrderTypeRule(
            PRE_WARMED_UP,
            TldPolicy(frozenset({"com", "org", "co"}), "pre-warmed domains"),
            "error",
            False,
        ),
        EXTRA_ACCOUNTS: OrderTypeRule(
            EXTRA_ACCOUNTS,
            TldPolicy(
                frozenset({"com", "org", "co"}), "domains bought through Instantly"
            ),
            "warning",
            True,
        ),
    }
)


def tld_policy(order_type: str) -> TldPolicy | None:
    """The TLD policy for `order_type` (for the paste parser), or None if the type is unknown."""
    rule = ORDER_TYPE_RULES.get(order_type)
    return rule.tld_policy if rule else None


# Deliberately narrower than RFC 5322: every mail provider accepts this, and names that only
# some providers accept would pass here and fail at Instantly.
_PREFIX_CHARS = re.compile(r"[a-z0-9._-]+\Z")
_PREFIX_EDGE = "._-"
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` breaks the e-mail prefix rule, or None. Checked exactly as given.

    The rule: 1-64 characters of lower-case a-z, digits, '.', '-' and '_'; starts and ends
    with a letter or digit; no two dots in a row. The phrase completes "the prefix 'x' …".
    """
    if not prefix:
        return "is empty"
    if len(prefix) > PREFIX_MAX_LENGTH:
        return f"is {len(prefix)} characters long; the limit is {PREFIX_MAX_LENGTH}"
    if not _PREFIX_CHARS.match(prefix):
        bad = next(ch for ch in prefix if not _PREFIX_CHARS.match(ch))
        if "A" <= bad <= "Z":
            return "has upper-case letters; use lower case"
        if bad == " ":
            return "contains a space"
        return f"contains {show_char(bad)}; use only a-z, 0-9, '.', '-' and '_'"
    if ".." in prefix:
        return "has two dots in a row"
    if prefix[0] in _PREFIX_EDGE:
        return "must start with a letter or digit"
    if prefix[-1] in _PREFIX_EDGE:
        return "must end with a letter or digit"
    return None


def name_problem(value: str) -> tuple[str, str] | None:
    """(code, reason) when a first or last name breaks the name rules, else None.

    The rule: not blank, at most 100 characters, no control characters or line breaks.
    The reason completes "the first name …".
    """
    if not value.strip():
        return "missing_name", "is missing"
    if len(value) > NAME_MAX_LENGTH:
        return (
            "name_too_long",
            f"is {len(value)} characters long; the limit is {NAME_MAX_LENGTH}",
        )
    if any(unicodedata.category(ch) in _FORBIDDEN_NAME_CATEGORIES for ch in value):
        return "name_control_character", "contains a control character or line break"
    return None


@dataclass(frozen=True)
class DraftMailbox:
    first_name: str
    last_name: str
    email_prefix: str


@dataclass(frozen=True)
class DraftItem:
    domain: str
    provider: int = GOOGLE
    forwarding_domain: str = ""  # "" = no forwarding
    mailboxes: tuple[DraftMailbox, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One problem in a draft. `row` and `item` are 1-based, as in the message."""

    where: Where
    domain: str | None  # the item's domain as drafted; None for order-wide findings
    row: int | None  # mailbox number on the domain, for mailbox findings
    field: str
    code: str
    message: str
    severity: Severity
    item: int | None = None  # the domain's position in the order

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(finding.is_error for finding in findings)


def check_draft(order_type: str, items: Sequence[DraftItem]) -> list[Finding]:
    """Check a draft order against the local rules. Never raises; the order is stable.

    Order-wide findings come first, then each domain in order: the domain's own findings,
    then its mailboxes'. Domains are compared in normalised form.
    """
    type_rule = ORDER_TYPE_RULES.get(order_type)
    if type_rule is None:
        known = ", ".join(ORDER_TYPE_RULES)
        message = (
            f"The order type '{shorten(order_type)}' is unknown; use one of {known}"
        )
        return [
            Finding(
                "order",
                None,
                None,
                "order_type",
                "unknown_order_type",
                message,
                "error",
            )
        ]
    if not items:
        message = "The order has no domains yet; add at least one"
        return [Finding("order", None, None, "items", "empty_order", message, "error")]
    findings: list[Finding] = []
    first_seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        findings.extend(_ItemCheck(type_rule, number, item).run(first_seen))
    return findings


class _ItemCheck:
    """The findings for one domain of a draft; one instance per item."""

    def __init__(self, type_rule: OrderTypeRule, number: int, item: DraftItem) -> None:
        self.type_rule = type_rule
        self.number = number
        self.item = item
        self.name = shorten(item.domain.strip()) or f"Domain {number}"
        self.findings: list[Finding] = []

    def add(
        self, field: str, code: str, text: str, severity: Severity = "error"
    ) -> None:
        message = f"{self.name}: {text}"
        self.findings.append(
            Finding(
                "domain",
                self.item.domain,
                None,
                field,
                code,
                message,
                severity,
                self.number,
            )
        )

    def add_mailbox(self, row: int, field: str, code: str, text: str) -> None:
        message = f"Mailbox {row} on {self.name}: {text}"
        self.findings.append(
            Finding(
                "mailbox",
                self.item.domain,
                row,
                field,
                code,
                message,
                "error",
                self.number,
            )
        )

    def run(self, first_seen: dict[str, int]) -> list[Finding]:
        domain = self.check_domain(first_seen)
        rule = self.check_provider()
        self.check_forwarding(domain)
        if not self.type_rule.takes_mailboxes:
            if self.item.mailboxes:
                text = "pre-warmed domains come with their mailboxes; the ones listed here are ignored"
                self.add("mailboxes", "mailboxes_ignored", text, "warning")
            return self.findings
        count = len(self.item.mailboxes)
        if count == 0:
            self.add(
                "mailboxes",
                "domains_without_accounts",
                "has no mailboxes; add at least one",
            )
        elif rule is not None and (
            rule.extra_accounts_allowed or self.type_rule.code != EXTRA_ACCOUNTS
        ):
            self.check_count(rule, count)
        self.check_mailboxes()
        return self.findings

    def check_domain(self, first_seen: dict[str, int]) -> str:
        domain = normalise_domain(self.item.domain)
        if not domain:
            self.add("domain", "missing_domain", "the domain is missing")
            return domain
        problem = domain_problem(domain)
        if problem:
            self.add("domain", "invalid_domain", f"not a valid domain ({problem})")
            return domain
        if domain != self.item.domain:
            self.add(
                "domain",
                "domain_not_normalised",
                f"will be sent as {domain}",
                "warning",
            )
        refusal = self.type_rule.tld_policy.problem(domain)
        if refusal:
            self.add("domain", refusal[0], refusal[1], self.type_rule.tld_severity)
        if domain in first_seen:
            self.add(
                "domain",
                "duplicate_domain",
                f"already in the order as domain {first_seen[domain]}",
            )
        else:
            first_seen[domain] = self.number
        return domain

    def check_provider(self) -> ProviderRule | None:
        provider: object = self.item.provider
        # bool is an int subclass; True must not pass as Google.
        rule = (
            None
            if isinstance(provider, bool) or not isinstance(provider, int)
            else PROVIDER_RULES.get(provider)
        )
        if rule is None:
            self.add(
                "provider",
                "unknown_provider",
                f"the provider '{shorten(str(provider))}' is unknown",
            )
        elif self.type_rule.code == EXTRA_ACCOUNTS and not rule.extra_accounts_allowed:
            # Whatever the domain has now, Instantly refuses this: a Microsoft domain takes no
            # extra mailboxes, and any other domain keeps its own provider.
            self.add(
                "provider",
                "unsupported_provider",
                f"{rule.label} domains cannot take extra mailboxes",
            )
        return rule

    def check_forwarding(self, domain: str) -> None:
        forwarding = self.item.forwarding_domain
        if not forwarding.strip():
            return
        if self.type_rule.code == EXTRA_ACCOUNTS:
            # Instantly would not apply it to a domain that exists already; the sandbox refuses
            # it the same way (docs/instantly.md).
            text = "forwarding cannot be set by an extra-mailbox order; change the domain's forwarding instead"
            self.add("forwarding_domain", "forwarding_on_extra_accounts", text)
            return
        problem = domain_problem(forwarding)
        if problem:
            text = f"the forwarding domain '{shorten(forwarding)}' is not valid ({problem})"
            self.add("forwarding_domain", "invalid_forwarding_domain", text)
        elif normalise_domain(forwarding) == domain:
            text = "the forwarding domain must differ from the domain itself"
            self.add("forwarding_domain", "forwarding_same_as_domain", text)

    def check_count(self, rule: ProviderRule, count: int) -> None:
        if count < rule.min_mailboxes:
            text = (
                f"{rule.label} needs {rule.count_text} per domain; this one has {count}"
            )
            self.add("mailboxes", "too_few_mailboxes", text)
        elif count > rule.accepted_max:
            text = f"{rule.label} allows {rule.count_text} per domain; this one has {count}"
            self.add("mailboxes", "too_many_mailboxes", text)
        elif count > rule.max_mailboxes:
            text = (
                f"{rule.label} domains normally have {rule.count_text}; this one has {count}. "
                f"Instantly's newest rules accept up to {rule.accepted_max}; the quote will confirm"
            )
            self.add("mailboxes", "too_many_mailboxes", text, "warning")

    def check_mailboxes(self) -> None:
        prefix_rows: dict[str, int] = {}
        for row, mailbox in enumerate(self.item.mailboxes, start=1):
            prefix = mailbox.email_prefix
            problem = prefix_problem(prefix)
            if problem:
                self.add_mailbox(
                    row,
                    "email_prefix",
                    "invalid_prefix",
                    f"the prefix '{shorten(prefix)}' {problem}",
                )
            if prefix:
                key = prefix.lower()
                if key in prefix_rows:
                    text = f"the prefix '{shorten(prefix)}' is already used by mailbox {prefix_rows[key]}"
                    self.add_mailbox(row, "email_prefix", "duplicate_prefix", text)
                else:
                    prefix_rows[key] = row
            for field, label, value in (
                ("first_name", "first name", mailbox.first_name),
                ("last_name", "last name", mailbox.last_name),
            ):
                issue = name_problem(value)
                if issue:
                    self.add_mailbox(row, field, issue[0], f"the {label} {issue[1]}")
