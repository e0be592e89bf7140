"""The published DFY rules the sandbox enforces, as data, in one place.

Where Instantly's documents disagree or say nothing, the choice made here is listed in
docs/instantly.md; change a number here and every check and price follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import IntEnum
from typing import Any

from django.conf import settings


class Provider(IntEnum):
    GOOGLE = 1
    AIRMAIL = 2
    MICROSOFT = 3


PROVIDER_NAMES = {
    Provider.GOOGLE: "Google",
    Provider.AIRMAIL: "AirMail",
    Provider.MICROSOFT: "Microsoft/Outlook",
}


# --- The accounts API (GET /accounts): Instantly's sending-account view of a mailbox --------
# Its `provider_code` list differs from the DFY one: 1 Custom IMAP/SMTP, 2 Google,
# 3 Microsoft, 4 AWS, 8 AirMail, 11 Airmail Instant (docs/instantly.md).
ACCOUNT_PROVIDER_CODES: dict[Provider, int] = {
    Provider.GOOGLE: 2,
    Provider.AIRMAIL: 8,
    Provider.MICROSOFT: 3,
}
PUBLISHED_PROVIDER_CODES = (1, 2, 3, 4, 8, 11)


class AccountStatus(IntEnum):
    """An account's connection (`status`), as published."""

    ACTIVE = 1
    PAUSED = 2
    MAINTENANCE = 3  # temporarily paused by Instantly
    CONNECTION_ERROR = -1
    SOFT_BOUNCE_ERROR = -2
    SENDING_ERROR = -3


class WarmupStatus(IntEnum):
    """An account's warmup (`warmup_status`), as published."""

    PAUSED = 0
    ACTIVE = 1
    BANNED = -1
    SPAM_FOLDER_UNKNOWN = -2
    PERMANENT_SUSPENSION = -3


# The published values of the list's `filter` query parameter.
ACCOUNT_FILTERS = (
    "ACC_FILTER_PAUSED",
    "ACC_FILTER_ERROR",
    "ACC_FILTER_NO_CTD",
    "ACC_FILTER_PW_ACCOUNTS",
    "ACC_FILTER_DFY",
    "ACC_FILTER_DFY_SETUP_PENDING",
    "ACC_FILTER_W_ACTIVE",
    "ACC_FILTER_W_PAUSED",
    "ACC_FILTER_W_ERROR",
)
ACCOUNTS_SCOPE_RESOURCE = "accounts"

# Inferred (Instantly publishes no curve): the warmup score of a set-up mailbox starts at 40
# and rises 3 points per whole day since setup ended, up to 100 (day 20).
WARMUP_SCORE_START = 40
WARMUP_SCORE_PER_DAY = 3
WARMUP_SCORE_MAX = 100
# Inferred defaults of a set-up DFY mailbox: sending limit per day, warmup emails per day.
DFY_DAILY_LIMIT = 30
DFY_WARMUP_LIMIT = 20


@dataclass(frozen=True)
class ProviderRule:
    min_mailboxes: int
    max_mailboxes: int
    # Microsoft is billed per domain for the whole mailbox bundle, the others per mailbox.
    billed_per_domain: bool
    extra_accounts_allowed: bool


# Microsoft takes 50-100 mailboxes per new domain, billed per domain (schema of 2026-08; the
# "exactly 50" of 2026-05..07 is superseded, docs/instantly.md). SANDBOX_PROVIDER_RULES in
# Django settings can still change any number, e.g. {3: {"max_mailboxes": 50}}.
PROVIDER_RULES: dict[Provider, ProviderRule] = {
    Provider.GOOGLE: ProviderRule(
        1, 5, billed_per_domain=False, extra_accounts_allowed=True
    ),
    Provider.AIRMAIL: ProviderRule(
        1, 5, billed_per_domain=False, extra_accounts_allowed=True
    ),
    Provider.MICROSOFT: ProviderRule(
        50, 100, billed_per_domain=True, extra_accounts_allowed=False
    ),
}


def provider_rule(provider: Provider) -> ProviderRule:
    overrides: dict[Any, dict[str, Any]] = settings.SANDBOX_PROVIDER_RULES
    changes = overrides.get(int(provider)) or overrides.get(str(int(provider))) or {}
    return replace(PROVIDER_RULES[provider], **changes)


# Regular DFY domains: .com and .org only. Pre-warmed stock may also be .co.
DFY_TLDS = frozenset({"com", "org"})
PREWARMED_TLDS = ("com", "org", "co")

# A registrable name: exactly one label plus the TLD (subdomains cannot be bought).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
REGISTRABLE_DOMAIN = re.compile(rf"^{_LABEL}\.[a-z]{{2,63}}$")
# Forwarding targets are any host name with an alphabetic TLD.
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)+[a-z]{{2,63}}$")
# Mailbox local part: letters, digits and . _ - inside, never at the ends, no "..".
EMAIL_PREFIX = re.compile(
    r"^(?!.*\.\.)[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$", re.IGNORECASE
)
NAME_MAX_LENGTH = 100

# Well-known trademarks refused by domain checks and orders. A substring match on the name
# without hyphens, so "my-goo-gle.com" is caught. Short words that hide inside ordinary
# words ("aws" in "laws", "chase" in "purchase") are deliberately left out.
DEFAULT_RESTRICTED_KEYWORDS = (
    "adobe",
    "amazon",
    "apple",
    "binance",
    "coinbase",
    "dropbox",
    "ebay",
    "equifax",
    "experian",
    "facebook",
    "gmail",
    "google",
    "hotmail",
    "hubspot",
    "icloud",
    "instagram",
    "instantly",
    "linkedin",
    "mastercard",
    "microsoft",
    "netflix",
    "office365",
    "outlook",
    "paypal",
    "salesforce",
    "tiktok",
    "transunion",
    "twitter",
    "walmart",
    "whatsapp",
    "youtube",
)

# order_error names one cause although several lists may be filled. Coarse before fine: a
# provider that cannot be sold at all, then what is wrong with the domain itself, then the
# domain's relation to existing orders, then forwarding, then the mailboxes.
ORDER_ERROR_PRECEDENCE: tuple[tuple[str, str], ...] = (
    # (order_error value, response list that triggers it)
    ("provider_unavailable", "unavailable_email_providers"),
    ("invalid_domains", "invalid_domains"),
    ("blacklist_domains", "blacklist_domains"),
    ("unavailable_domains", "unavailable_domains"),
    ("missing_domain_orders", "missing_domain_orders"),
    ("unsupported_provider", "unsupported_provider_domains"),
    ("provider_mismatch", "provider_mismatch_domains"),
    ("invalid_forwarding_domains", "invalid_forwarding_domains"),
    ("domains_without_accounts", "domains_without_accounts"),
    ("invalid_accounts", "invalid_accounts"),
)

PAYMENT_FAILURE_REASONS = (
    "payment_method_not_supported",
    "authentication_required",
    "card_expired",
    "generic_decline",
)


@dataclass(frozen=True)
class RateLimit:
    bucket: str
    seconds: int
    limit: int


# Per sandbox workspace, across all its keys (DOC-RATE); domains/check has its own budget.
GLOBAL_RATE_LIMITS = (RateLimit("s", 1, 100), RateLimit("m", 60, 6000))
CHECK_RATE_LIMITS = (RateLimit("check:m", 60, 30), RateLimit("check:h", 3600, 900))
# PUT and DELETE of a domain's forwarding: 10/min and 60/h (API 2026-08-20).
FORWARDING_RATE_LIMITS = (RateLimit("fwd:m", 60, 10), RateLimit("fwd:h", 3600, 60))

SCOPE_RESOURCE = "dfy_email_account_orders"
SCOPE_ACTIONS = ("all", "create", "read", "update", "delete")
SCOPE_PATTERN = re.compile(r"^[a-z_-]+:(?:all|create|read|update|delete)$")

# Pagination when the caller sends no limit; Instantly does not document its default.
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

SIMILAR_DOMAINS_PER_TLD = 67

# Built-in values of the global settings row (sandbox.models.Knobs). Prices follow Instantly's
# help centre: domain $15/year, mailbox $5/month, pre-warmed mailbox $10/month, Microsoft
# $20/month per domain. AirMail's price is unpublished; it defaults to the Google price.
DEFAULT_KNOBS: dict[str, object] = {
    "domain_price_per_year": Decimal("15"),
    "google_price_per_month": Decimal("5"),
    "airmail_price_per_month": Decimal("5"),
    "prewarmed_price_per_month": Decimal("10"),
    "microsoft_price_per_domain_per_month": Decimal("20"),
    "free_domains": [],
    "free_domain_count": 0,
    "discount_percent": Decimal("0"),
    "latency_ms": 0,
    "error_5xx_rate": Decimal("0"),
    "timeout_after_record": False,
    "timeout_without_record": False,
    "timeout_after_record_seconds": 30.0,
    "unavailable_providers": [],
    "empty_prewarmed_stock": False,
    "provisioning_delay_seconds": 120,
    "enforce_rate_limits": True,
    "forwarding_unsupported": False,
    "forwarding_apply_fails": False,
}
