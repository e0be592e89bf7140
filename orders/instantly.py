"""The Instantly API v2 client for the DFY endpoints: an I/O boundary with no Django models.

One `InstantlyClient` per key owns one `httpx.Client` (explicit timeouts, no redirects) and
offers one method per endpoint, returning frozen dataclasses. JSON numbers are parsed as
`Decimal`; unknown response fields are ignored because Instantly's schema grows often.

Retry policy, the part that protects money:
- Reads (GETs and the read-like POSTs `domains/check`, `domains/similar`, the pre-warmed
  list, and `simulate_order`) retry 429, 5xx, timeouts and connection errors with exponential
  backoff and full jitter, honouring `Retry-After`, at most `max_read_retries` times.
- `place_order` and `cancel_accounts` change state and are never retried once sent. A failure
  after sending raises `OutcomeUnknown`: the caller reconciles from the list endpoints.
- `set_forwarding` and `remove_forwarding` (PUT/DELETE) set an absolute state, so they are
  retried like reads, except for their documented refusals 409, 422 and 502.
- Every call (retries and rate-limiter waits included) ends by its deadline, or raises
  `DeadlineExceeded`, a transient error.

The key travels only in the Authorization header. It is not logged, not put in messages,
and `repr` masks it.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import os
import random
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from ipaddress import ip_address
from typing import Any, Final, NoReturn, Self, TypeVar

import certifi
import httpx

from orders.ratelimit import (
    KIND_CHECK,
    KIND_DEFAULT,
    KIND_FORWARDING,
    RateLimiter,
    RateLimiterUnavailable,
)

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)
MAX_CHECK_DOMAINS: Final = 50  # maxItems of domains/check
MAX_PAGE_SIZE: Final = 100  # maximum of `limit` on the list endpoints
SIMILAR_TLDS: Final = frozenset({"com", "org"})
PRE_WARMED_EXTENSIONS: Final = frozenset({"com", "org", "co"})

ORDERS_PATH: Final = "dfy-email-account-orders"
ACCOUNTS_PATH: Final = "dfy-email-account-orders/accounts"
CANCEL_PATH: Final = "dfy-email-account-orders/accounts/cancel"
CHECK_PATH: Final = "dfy-email-account-orders/domains/check"
SIMILAR_PATH: Final = "dfy-email-account-orders/domains/similar"
PRE_WARMED_PATH: Final = "dfy-email-account-orders/domains/pre-warmed-up-list"
FORWARDING_MODES: Final = ("redirect", "stealth")
# The published pattern of a forwarding path's {domain} and of the body's forwarding_domain.
FORWARDING_DOMAIN_PATTERN: Final = re.compile(r"^\s*\S+\.[a-zA-Z]{2,}\s*$")


def forwarding_path(domain: str) -> str:
    """domains/{domain}/forwarding, the domain percent-encoded so it stays one path segment."""
    return f"domains/{urllib.parse.quote(domain.strip(), safe='')}/forwarding"


# --- Errors -------------------------------------------------------------------------------


class InstantlyError(Exception):
    """Base of every client error. Messages come from the remote envelope and never hold the key."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error: str | None = None,
        raw_body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error = error
        self.raw_body = raw_body


class InstantlyTransientError(InstantlyError):
    """Worth retrying later: 5xx, timeouts, connection errors, 429, a passed deadline.

    `request_sent` is False when Instantly certainly did not act on the request: nothing
    reached the wire (connect error, pool timeout, a wait that would pass the deadline), or a
    read was answered 429. Then the request is safe to send again later. The real order POST
    never relies on a 429 this way: `place_order` reports it as OutcomeUnknown.
    """

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool = True,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.request_sent = request_sent
        # Seconds to wait before trying again, when known (429's Retry-After, a limiter wait).
        self.retry_after = retry_after


class RateLimited(InstantlyTransientError):
    """HTTP 429. `retry_after` is the server's Retry-After in seconds, when it sent one."""


class DeadlineExceeded(InstantlyTransientError):
    """The call's overall deadline would pass. `retry_after`: the wait that did not fit."""


class InstantlyAuthError(InstantlyError):
    """HTTP 401: the key is missing, invalid or revoked."""


class InstantlyPlanError(InstantlyError):
    """HTTP 402: the Instantly workspace has no active paid plan."""


class InstantlyScopeError(InstantlyError):
    """HTTP 403: the key lacks a scope the endpoint needs, or the workspace's plan lacks the
    feature; Instantly's 403 does not say which (`FORBIDDEN_HINT` names both)."""


# What a person reads for a 403 on ordering: both causes, since the answer cannot tell them apart.
FORBIDDEN_HINT: Final = (
    "Instantly answered 403 Forbidden: either the API key lacks the DFY order scope "
    "(dfy_email_account_orders:create or :all), or the Instantly workspace's plan does not "
    "include DFY ordering (it needs an active trial, a paid CRM plan or an Outreach "
    "entitlement). Check both in Instantly."
)


class InstantlyNotFound(InstantlyError):
    """HTTP 404."""


class InstantlyValidationError(InstantlyError):
    """HTTP 400. `code`/`keyword` are set for `restricted_domain` (a trademark keyword)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        keyword: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.code = code
        self.keyword = keyword


class InstantlyProtocolError(InstantlyError):
    """The response is not what the contract promises: not JSON, wrong shape, a redirect."""


class SimulationNotEchoed(InstantlyProtocolError):
    """A simulation answer without `simulation: true` and `order_placed: false`.

    The quote is refused. If `order_placed` is true, money may have moved: treat it like
    `OutcomeUnknown` and reconcile.
    """

    def __init__(
        self, message: str, *, order_placed: bool | None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.order_placed = order_placed


class OutcomeUnknown(InstantlyError):
    """A state-changing POST may or may not have taken effect (timeout or connection lost after
    sending, 5xx, unreadable or malformed body). Never retry it; reconcile from the list
    endpoints. Deliberately not an `InstantlyTransientError`, so no retry-on-transient catches it.
    """


class ForwardingConflict(InstantlyError):
    """HTTP 409 from a forwarding change: the domain order is still being provisioned.
    Nothing changed; the same change succeeds once the domain is ready."""


class ForwardingUnsupported(InstantlyError):
    """HTTP 422 from a forwarding change: Instantly does not support it for this domain."""


class ForwardingNotApplied(InstantlyError):
    """HTTP 502 from a forwarding change: Instantly could not apply it and nothing changed.
    Deliberately not transient: it is a documented answer for a person to read, not a
    reason to hammer an endpoint that allows 10 changes a minute."""


AUTH_FAILURES: Final = (InstantlyAuthError, InstantlyScopeError, InstantlyPlanError)


# --- Results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainAvailability:
    domain: str
    available: bool
    unavailable_reason: str | None = None  # "restricted" (trademark) when present
    restricted_keyword: str | None = None


@dataclass(frozen=True, slots=True)
class PreWarmedDomain:
    domain: str
    account_type: (
        int | None
    )  # provider code 1/2/3; None when Instantly sent only `domains`


@dataclass(frozen=True, slots=True)
class OrderedAccount:
    email_address_prefix: str
    first_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class PricedItem:
    domain: str
    email_provider: int
    accounts: tuple[OrderedAccount, ...]
    domain_price: Decimal
    accounts_price: Decimal
    total_price: Decimal
    total_discount: Decimal
    forwarding_domain: str | None = None
    domain_monthly_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class InvalidAccount:
    domain: str
    first_name: str
    last_name: str
    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The answer of the order endpoint, simulated or real. Money is Decimal or None."""

    order_placed: bool
    order_is_valid: bool
    simulation: bool | None
    order_error: str | None
    payment_failure_reason: str | None
    unavailable_domains: tuple[str, ...]
    blacklist_domains: tuple[str, ...]
    blacklist_keywords: tuple[str, ...]
    invalid_domains: tuple[str, ...]
    invalid_forwarding_domains: tuple[str, ...]
    missing_domain_orders: tuple[str, ...]
    provider_mismatch_domains: tuple[str, ...]
    unsupported_provider_domains: tuple[str, ...]
    unavailable_email_providers: tuple[int, ...]
    domains_without_accounts: tuple[str, ...]
    free_domains: tuple[str, ...]
    invalid_accounts: tuple[InvalidAccount, ...]
    number_of_domains_ordered: int | None
    number_of_accounts_ordered: int | None
    price_per_account_per_month: Decimal | None
    price_per_account_per_month_by_account_type: dict[str, Decimal] | None
    price_per_domain_per_month: Decimal | None
    price_per_domain_per_year: Decimal | None
    total_domains_price_per_year: Decimal | None
    total_accounts_price_per_month: Decimal | None
    total_price_per_month: Decimal | None
    total_price_per_year: Decimal | None
    total_price: Decimal | None
    total_discount: Decimal | None
    payment_method_brand: str | None
    payment_method_last_4_digits: str | None
    payment_method_name_on_card: str | None
    checkout_required: bool | None
    checkout_url: str | None
    cart_order_id: str | None
    order_items: tuple[PricedItem, ...]
    raw_body: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RemoteOrder:
    """One ordered domain as the orders list reports it (the API has no order id or status)."""

    workspace_id: str
    domain: str
    timestamp_created: datetime
    timestamp_cancelled: datetime | None = None
    forwarding_domain: str | None = None
    forwarding_mode: str | None = None
    is_pre_warmed_up: bool | None = None


@dataclass(frozen=True, slots=True)
class RemoteAccount:
    """One ordered mailbox. `password` is a secret (only with `with_passwords`); an empty one
    means "not provisioned yet", which `is_ready` exposes without touching the value."""

    id: str
    domain: str
    email: str
    email_provider: int
    first_name: str
    last_name: str
    is_pre_warmed_up: bool
    timestamp_created: datetime
    timestamp_cancelled: datetime | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def is_ready(self) -> bool:
        return bool(self.password)

    @property
    def is_cancelled(self) -> bool:
        return self.timestamp_cancelled is not None


@dataclass(frozen=True, slots=True)
class DomainForwarding:
    """A domain's web forwarding. Both values are None when nothing is configured."""

    domain: str
    forwarding_domain: str | None = None
    forwarding_mode: str | None = None  # "redirect" or "stealth"


# --- Parsing ------------------------------------------------------------------------------


class _Malformed(InstantlyProtocolError):
    pass


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"non-finite number {name}")


def _loads(text: str) -> Any:
    """JSON with every fractional number as Decimal (money must never pass through float)."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def _obj(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _Malformed(f"{where}: expected an object")
    return value


def _get(
    data: Mapping[str, object],
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    *,
    required: bool,
) -> Any:
    value = data.get(key)
    if value is None:
        if required:
            raise _Malformed(f"{where}.{key}: missing")
        return None
    # bool is an int subclass: never accept true/false where a number is expected, or back.
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise _Malformed(f"{where}.{key}: unexpected type {type(value).__name__}")
    return value


def _str(data: Mapping[str, object], key: str, where: str) -> str:
    value: str = _get(data, key, str, where, required=True)
    return value


def _opt_str(data: Mapping[str, object], key: str, where: str) -> str | None:
    value: str | None = _get(data, key, str, where, required=False)
    return value


def _bool(data: Mapping[str, object], key: str, where: str) -> bool:
    value: bool = _get(data, key, bool, where, required=True)
    return value


def _opt_bool(data: Mapping[str, object], key: str, where: str) -> bool | None:
    value: bool | None = _get(data, key, bool, where, required=False)
    return value


def _int_value(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Malformed(f"{where}: expected a number")
    return _to_int(value, where)


def _to_int(value: int | Decimal, where: str) -> int:
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise _Malformed(f"{where}: expected a whole number")
        return int(value)
    return value


def _int(data: Mapping[str, object], key: str, where: str) -> int:
    return _to_int(
        _get(data, key, (int, Decimal), where, required=True), f"{where}.{key}"
    )


def _opt_int(data: Mapping[str, object], key: str, where: str) -> int | None:
    value = _get(data, key, (int, Decimal), where, required=False)
    return None if value is None else _to_int(value, f"{where}.{key}")


def _money(data: Mapping[str, object], key: str, where: str) -> Decimal:
    return Decimal(_get(data, key, (int, Decimal), where, required=True))


def _opt_money(data: Mapping[str, object], key: str, where: str) -> Decimal | None:
    value = _get(data, key, (int, Decimal), where, required=False)
    return None if value is None else Decimal(value)


def _list(data: Mapping[str, object], key: str, where: str) -> list[object]:
    value: list[object] | None = _get(data, key, list, where, required=False)
    return value or []


def _str_tuple(data: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    values = _list(data, key, where)
    if not all(isinstance(v, str) for v in values):
        raise _Malformed(f"{where}.{key}: expected strings")
    return tuple(str(v) for v in values)


def _timestamp(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _Malformed(f"{where}: not an ISO-8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _opt_timestamp(data: Mapping[str, object], key: str, where: str) -> datetime | None:
    # Active accounts carry "" (or null) in the required timestamp_cancelled field.
    value = _opt_str(data, key, where)
    return _timestamp(value, f"{where}.{key}") if value else None


def parse_order_result(text: str) -> OrderResult:
    """An order answer from its raw text, e.g. a stored quote's response body."""
    return _parse_order_result(_loads(text), text)


def _parse_order_result(decoded: object, text: str) -> OrderResult:
    data = _obj(decoded, "order")
    w = "order"
    by_type_raw = _get(
        data, "price_per_account_per_month_by_account_type", dict, w, required=False
    )
    by_type = None
    if by_type_raw is not None:
        by_type = {
            str(k): _money(
                by_type_raw, k, f"{w}.price_per_account_per_month_by_account_type"
            )
            for k in by_type_raw
        }
    providers = _list(data, "unavailable_email_providers", w)
    return OrderResult(
        order_placed=_bool(data, "order_placed", w),
        order_is_valid=_bool(data, "order_is_valid", w),
        simulation=_opt_bool(data, "simulation", w),
        order_error=_opt_str(data, "order_error", w),
        payment_failure_reason=_opt_str(data, "payment_failure_reason", w),
        unavailable_domains=_str_tuple(data, "unavailable_domains", w),
        blacklist_domains=_str_tuple(data, "blacklist_domains", w),
        blacklist_keywords=_str_tuple(data, "blacklist_keywords", w),
        invalid_domains=_str_tuple(data, "invalid_domains", w),
        invalid_forwarding_domains=_str_tuple(data, "invalid_forwarding_domains", w),
        missing_domain_orders=_str_tuple(data, "missing_domain_orders", w),
        provider_mismatch_domains=_str_tuple(data, "provider_mismatch_domains", w),
        unsupported_provider_domains=_str_tuple(
            data, "unsupported_provider_domains", w
        ),
        unavailable_email_providers=tuple(
            _int_value(p, f"{w}.unavailable_email_providers[]") for p in providers
        ),
        domains_without_accounts=_str_tuple(data, "domains_without_accounts", w),
        free_domains=_str_tuple(data, "free_domains", w),
        invalid_accounts=tuple(
            _parse_invalid_account(_obj(item, f"{w}.invalid_accounts[]"))
            for item in _list(data, "invalid_accounts", w)
        ),
        number_of_domains_ordered=_opt_int(data, "number_of_domains_ordered", w),
        number_of_accounts_ordered=_opt_int(data, "number_of_accounts_ordered", w),
        price_per_account_per_month=_opt_money(data, "price_per_account_per_month", w),
        price_per_account_per_month_by_account_type=by_type,
        price_per_domain_per_month=_opt_money(data, "price_per_domain_per_month", w),
        price_per_domain_per_year=_opt_money(data, "price_per_domain_per_year", w),
        total_domains_price_per_year=_opt_money(
            data, "total_domains_price_per_year", w
        ),
        total_accounts_price_per_month=_opt_money(
            data, "total_accounts_price_per_month", w
        ),
        total_price_per_month=_opt_money(data, "total_price_per_month", w),
        total_price_per_year=_opt_money(data, "total_price_per_year", w),
        total_price=_opt_money(data, "total_price", w),
        total_discount=_opt_money(data, "total_discount", w),
        payment_method_brand=_opt_str(data, "payment_method_brand", w),
        payment_method_last_4_digits=_opt_str(data, "payment_method_last_4_digits", w),
        payment_method_name_on_card=_opt_str(data, "payment_method_name_on_card", w),
        checkout_required=_opt_bool(data, "checkout_required", w),
        checkout_url=_opt_str(data, "checkout_url", w),
        cart_order_id=_opt_str(data, "cart_order_id", w),
        order_items=tuple(
            _parse_priced_item(_obj(i, f"{w}.order_items[]"))
            for i in _list(data, "order_items", w)
        ),
        raw_body=text,
    )


def _parse_invalid_account(data: Mapping[str, object]) -> InvalidAccount:
    w = "invalid_accounts[]"
    # All five are required by the schema, but a missing name is exactly what this list
    # reports ("First name is required"), so absent strings read as empty rather than fail.
    return InvalidAccount(
        domain=_opt_str(data, "domain", w) or "",
        first_name=_opt_str(data, "first_name", w) or "",
        last_name=_opt_str(data, "last_name", w) or "",
        email=_opt_str(data, "email", w) or "",
        reason=_opt_str(data, "reason", w) or "",
    )


def _parse_priced_item(data: Mapping[str, object]) -> PricedItem:
    w = "order_items[]"
    return PricedItem(
        domain=_str(data, "domain", w),
        email_provider=_int(data, "email_provider", w),
        accounts=tuple(
            OrderedAccount(
                email_address_prefix=_str(a, "email_address_prefix", f"{w}.accounts[]"),
                first_name=_str(a, "first_name", f"{w}.accounts[]"),
                last_name=_str(a, "last_name", f"{w}.accounts[]"),
            )
            for a in (
                _obj(raw, f"{w}.accounts[]") for raw in _list(data, "accounts", w)
            )
        ),
        domain_price=_money(data, "domain_price", w),
        accounts_price=_money(data, "accounts_price", w),
        total_price=_money(data, "total_price", w),
        total_discount=_money(data, "total_discount", w),
        forwarding_domain=_opt_str(data, "forwarding_domain", w),
        domain_monthly_price=_opt_money(data, "domain_monthly_price", w),
    )


def _parse_remote_order(data: Mapping[str, object]) -> RemoteOrder:
    w = "orders.items[]"
    return RemoteOrder(
        workspace_id=_str(data, "workspace_id", w),
        domain=_str(data, "domain", w),
        timestamp_created=_timestamp(
            _str(data, "timestamp_created", w), f"{w}.timestamp_created"
        ),
        timestamp_cancelled=_opt_timestamp(data, "timestamp_cancelled", w),
        forwarding_domain=_opt_str(data, "forwarding_domain", w),
        forwarding_mode=_opt_str(data, "forwarding_mode", w),
        is_pre_warmed_up=_opt_bool(data, "is_pre_warmed_up", w),
    )


def _parse_remote_account(data: Mapping[str, object]) -> RemoteAccount:
    w = "accounts.items[]"
    return RemoteAccount(
        id=_str(data, "id", w),
        domain=_str(data, "domain", w),
        email=_str(data, "email", w),
        email_provider=_int(data, "email_provider", w),
        first_name=_str(data, "first_name", w),
        last_name=_str(data, "last_name", w),
        is_pre_warmed_up=_bool(data, "is_pre_warmed_up", w),
        timestamp_created=_timestamp(
            _str(data, "timestamp_created", w), f"{w}.timestamp_created"
        ),
        timestamp_cancelled=_opt_timestamp(data, "timestamp_cancelled", w),
        password=_opt_str(data, "password", w),
    )


def _parse_forwarding(data: Mapping[str, object], domain: str) -> DomainForwarding:
    w = "forwarding"
    mode = _opt_str(data, "forwarding_mode", w)
    if mode is not None and mode not in FORWARDING_MODES:
        raise _Malformed(f"{w}.forwarding_mode: unexpected value")
    return DomainForwarding(
        domain=_opt_str(data, "domain", w) or domain,
        forwarding_domain=_opt_str(data, "forwarding_domain", w) or None,
        forwarding_mode=mode,
    )


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


def _plain_http_allowed(url: httpx.URL) -> bool:
    """Plain http only towards this machine, an internal host (no dot, e.g. a compose
    service) or the portal's sandbox: never send a live key unencrypted across a network."""
    host = url.host
    if host == "localhost" or "." not in host or "/sandbox/" in url.path:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


# --- Client -------------------------------------------------------------------------------


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA bundle, which costs
    tens of milliseconds, and the web process builds a client for every quote."""
    return ssl.create_default_context(cafile=certifi.where())


class _BorrowedPool(httpx.BaseTransport):
    """A process-wide connection pool lent to short-lived clients: closing a client must not
    close the pool, so that the next quote reuses the open (TLS) connection to Instantly."""

    def __init__(self, pool: httpx.HTTPTransport) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool.handle_request(request)

    def close(self) -> None:
        return


_pools: dict[int, _BorrowedPool] = {}


def shared_transport() -> httpx.BaseTransport:
    """This process's pool. Keyed by pid: a forked worker must never reuse its parent's
    sockets."""
    pid = os.getpid()
    if pid not in _pools:
        _pools.clear()
        _pools[pid] = _BorrowedPool(
            httpx.HTTPTransport(
                verify=_tls_context(),
                limits=httpx.Limits(
                    max_connections=20,
                    max_keepalive_connections=10,
                    keepalive_expiry=30,
                ),
            )
        )
    return _pools[pid]


class InstantlyClient:
    """One key's connection to Instantly's DFY endpoints. Not thread-safe; build one per task.

    `limiter` (shared across processes) is consulted before every HTTP request, retries
    included; None disables limiting (tests). `on_wait(seconds, reason)` is told about every
    wait (limiter or backoff) before the client sleeps. `on_auth_failure(error)` is called
    with every 401/402/403 error before it is raised, whichever method met it.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        limiter_bucket: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        deadline_seconds: float = 30,
        max_read_retries: int = 4,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float, str], None] | None = None,
        on_auth_failure: Callable[[InstantlyError], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        if not api_key:
            raise ValueError("an Instantly API key is required")
        url = httpx.URL(base_url.rstrip("/") + "/")
        if url.scheme not in {"https", "http"} or (
            url.scheme == "http" and not _plain_http_allowed(url)
        ):
            raise ValueError(
                f"refusing to send an API key to {url.scheme}://{url.host}: use https"
            )
        self._key = api_key
        self.base_url = str(url)
        self.limiter_bucket = limiter_bucket
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._deadline_seconds = deadline_seconds
        self._max_read_retries = max_read_retries
        self._limiter = limiter
        self._sleep = sleep
        self._on_wait = on_wait
        self._on_auth_failure = on_auth_failure
        self._clock = clock
        self._jitter = jitter
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self.request_count = 0
        self.page_count = 0
        self._http = httpx.Client(
            verify=_tls_context(),
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": "dfyportal/0.1",
            },
            timeout=self._timeout,
            follow_redirects=False,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"<InstantlyClient {self.base_url} key=····{self._key[-4:]} bucket={self.limiter_bucket}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- Endpoints ------------------------------------------------------------------------

    def verify(self) -> None:
        """Prove the key works for DFY: the cheapest call that needs only DFY read scopes.
        Raises InstantlyAuthError / InstantlyScopeError / InstantlyPlanError, or a transient
        error when Instantly cannot be reached. Read: retried."""
        data, _text = self._read("GET", ORDERS_PATH, params={"limit": 1})
        _list(_obj(data, "orders"), "items", "orders")

    def check_domains(self, domains: Sequence[str]) -> list[DomainAvailability]:
        """Availability of at most 50 domains in one call (Instantly allows 30 calls/min,
        900/h; the limiter waits for that). Read-like: retried."""
        if isinstance(domains, str):
            raise TypeError("check_domains takes a sequence of domains, not one string")
        if len(domains) > MAX_CHECK_DOMAINS:
            raise ValueError(
                f"at most {MAX_CHECK_DOMAINS} domains per check, got {len(domains)}"
            )
        if not domains:
            return []
        data, _text = self._read(
            "POST", CHECK_PATH, json_body={"domains": list(domains)}, kind=KIND_CHECK
        )
        results = []
        for raw in _list(_obj(data, "check"), "results", "check"):
            item = _obj(raw, "check.results[]")
            w = "check.results[]"
            results.append(
                DomainAvailability(
                    domain=_str(item, "domain", w),
                    available=_bool(item, "available", w),
                    unavailable_reason=_opt_str(item, "unavailable_reason", w),
                    restricted_keyword=_opt_str(item, "restricted_keyword", w),
                )
            )
        return results

    def similar_domains(
        self, domain: str, tlds: Sequence[str] = ("com", "org")
    ) -> list[str]:
        """Available domains similar to `domain` (up to 67 per TLD). A trademark keyword raises
        InstantlyValidationError with code "restricted_domain" and the keyword. Retried."""
        if isinstance(tlds, str) or not tlds or not set(tlds) <= SIMILAR_TLDS:
            raise ValueError("tlds must be a non-empty sequence of 'com' and/or 'org'")
        body = {"domain": domain, "tlds": list(dict.fromkeys(tlds))}
        data, _text = self._read("POST", SIMILAR_PATH, json_body=body)
        return list(_str_tuple(_obj(data, "similar"), "domains", "similar"))

    def pre_warmed_domains(
        self, *, extensions: Sequence[str] | None = None, search: str | None = None
    ) -> list[PreWarmedDomain]:
        """Pre-warmed stock. An empty list is normal (no stock); do not poll it in a loop.
        Typed entries come from `domains_with_type`; domains only in the older `domains`
        list come back with `account_type=None`. Read-like: retried."""
        body: dict[str, object] = {}
        if extensions is not None:
            if (
                isinstance(extensions, str)
                or not set(extensions) <= PRE_WARMED_EXTENSIONS
            ):
                raise ValueError("extensions must be a sequence of 'com', 'org', 'co'")
            body["extensions"] = list(extensions)
        if search:
            body["search"] = search
        data, _text = self._read("POST", PRE_WARMED_PATH, json_body=body)
        obj = _obj(data, "pre_warmed")
        typed: dict[str, PreWarmedDomain] = {}
        for raw in _list(obj, "domains_with_type", "pre_warmed"):
            item = _obj(raw, "pre_warmed.domains_with_type[]")
            domain = _str(item, "domain", "pre_warmed.domains_with_type[]")
            typed[domain] = PreWarmedDomain(
                domain, _int(item, "account_type", "pre_warmed.domains_with_type[]")
            )
        for domain in _str_tuple(obj, "domains", "pre_warmed"):
            typed.setdefault(domain, PreWarmedDomain(domain, None))
        return list(typed.values())

    def simulate_order(self, payload: Mapping[str, object]) -> OrderResult:
        """Validate and price `payload` ({"order_type", "items"}) without buying anything.

        Read-like: retried like a read. Raises SimulationNotEchoed unless the answer says
        `simulation: true` and `order_placed: false`, so a quote can never stem from a real order.
        """
        body = {**_order_body(payload), "simulation": True}
        data, text = self._read("POST", ORDERS_PATH, json_body=body)
        result = _parse_order_result(data, text)
        if result.simulation is not True or result.order_placed is not False:
            raise SimulationNotEchoed(
                f"simulation answer echoed simulation={result.simulation}, order_placed={result.order_placed}",
                order_placed=result.order_placed,
                raw_body=text,
            )
        return result

    def place_order(self, payload: Mapping[str, object]) -> OrderResult:
        """Place the real order: the one call in the portal that spends money.

        Sent at most once, never retried by the client. Outcomes:
        - a parsed OrderResult (placed, or refused with `order_error`): definitive;
        - a 4xx error other than 408 and 429 (auth, scope, plan, not found, validation):
          refused before anything happened; definitive "not placed";
        - InstantlyTransientError with `request_sent=False` (connect error, pool timeout, or the
          deadline passing while waiting for the local rate limiter): nothing was sent, safe to
          retry later;
        - OutcomeUnknown (timeout or connection lost after sending, 429, 5xx, a redirect, an
          unreadable or malformed body): the order may exist; reconcile, never resend blindly.
          Instantly does not promise that a 429 answer means the order was not processed, so
          a 429 to this POST is treated like a lost answer (docs/lifecycle-bounds.md).
        """
        body = {**_order_body(payload), "simulation": False}
        deadline = self._clock() + self._deadline_seconds
        try:
            response = self._send_once(
                "POST",
                ORDERS_PATH,
                json_body=body,
                params=None,
                kind=KIND_DEFAULT,
                deadline=deadline,
            )
        except InstantlyTransientError as exc:
            if not exc.request_sent:
                raise
            raise OutcomeUnknown(f"order outcome unknown: {exc.message}") from exc
        if response.status_code == 429:
            raise OutcomeUnknown(
                "order outcome unknown: HTTP 429 (rate limited) to the real order",
                status_code=429,
                raw_body=self._redact(response.text),
            )
        return self._finish_state_change(
            response, "order", lambda text: _parse_order_result(_loads(text), text)
        )

    def iter_orders(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[RemoteOrder]:
        """Every ordered domain, following cursors lazily; one request per page (each page is
        one call with its own deadline and read retries). `on_page(page_number, items)`."""
        for item in self._paginate(ORDERS_PATH, {}, page_size, on_page, "orders"):
            yield _parse_remote_order(item)

    def iter_accounts(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        with_passwords: bool = False,
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[RemoteAccount]:
        """Every ordered mailbox, following cursors lazily. With `with_passwords`, an empty
        password marks a mailbox still being provisioned; passwords are secrets (never log)."""
        params: dict[str, str | int | bool] = (
            {"with_passwords": True} if with_passwords else {}
        )
        for item in self._paginate(
            ACCOUNTS_PATH, params, page_size, on_page, "accounts"
        ):
            yield _parse_remote_account(item)

    def cancel_accounts(self, emails: Sequence[str]) -> list[RemoteAccount]:
        """Cancel mailboxes (irreversible: Instantly deletes their Unibox data). Returns the
        accounts Instantly reports as cancelled.

        Sent at most once: it changes state, so it is not retried once sent. A failure after
        sending raises OutcomeUnknown (re-read the accounts list to see what happened); a
        transient error with `request_sent=False` is safe to retry.
        """
        if isinstance(emails, str):
            raise TypeError(
                "cancel_accounts takes a sequence of addresses, not one string"
            )
        if not emails:
            raise ValueError("cancel_accounts needs at least one address")
        deadline = self._clock() + self._deadline_seconds
        try:
            response = self._send_once(
                "POST",
                CANCEL_PATH,
                json_body={"accounts": list(emails)},
                params=None,
                kind=KIND_DEFAULT,
                deadline=deadline,
            )
        except InstantlyTransientError as exc:
            if not exc.request_sent:
                raise
            raise OutcomeUnknown(
                f"cancellation outcome unknown: {exc.message}"
            ) from exc

        def parse(text: str) -> list[RemoteAccount]:
            data = _obj(_loads(text), "cancel")
            return [
                _parse_remote_account(_obj(i, "cancel.items[]"))
                for i in _list(data, "items", "cancel")
            ]

        return self._finish_state_change(response, "cancellation", parse)

    def get_forwarding(self, domain: str) -> DomainForwarding:
        """The web forwarding of a domain ordered through Instantly. Read: retried."""
        _forwarding_check_domain(domain)
        data, _text = self._read("GET", forwarding_path(domain))
        return _parse_forwarding(_obj(data, "forwarding"), domain)

    def set_forwarding(
        self, domain: str, *, forwarding_domain: str, mode: str = "redirect"
    ) -> DomainForwarding:
        """Forward `domain` to `forwarding_domain` ("redirect" changes the visitor's URL,
        "stealth" keeps it and proxies the content). Returns the new forwarding.

        Raises ForwardingConflict (409, still provisioning), ForwardingUnsupported (422),
        ForwardingNotApplied (502), RateLimited / DeadlineExceeded (the 10/min, 60/h budget;
        `retry_after` says how long), or another InstantlyError.
        """
        _forwarding_check_domain(domain)
        target = forwarding_domain.strip()
        if not FORWARDING_DOMAIN_PATTERN.search(target):
            raise ValueError("forwarding_domain must look like mycompany.com")
        if target.lower() == domain.strip().lower():
            raise ValueError("a domain cannot forward to itself")
        if mode not in FORWARDING_MODES:
            raise ValueError("mode must be 'redirect' or 'stealth'")
        data = self._forwarding_change(
            "PUT", domain, {"forwarding_domain": target, "forwarding_mode": mode}
        )
        return _parse_forwarding(_obj(data, "forwarding"), domain)

    def remove_forwarding(self, domain: str) -> DomainForwarding:
        """Remove a domain's forwarding. Idempotent at Instantly: removing absent forwarding
        succeeds. Same errors as `set_forwarding`."""
        _forwarding_check_domain(domain)
        self._forwarding_change("DELETE", domain, None)
        return DomainForwarding(domain=domain.strip().lower())

    def _forwarding_change(self, method: str, domain: str, body: object) -> object:
        """PUT or DELETE under the forwarding limit. Both set an absolute state, so sending
        one twice is harmless: timeouts, connection errors, 5xx other than 502 and 429 are
        retried like reads, within the deadline. 409, 422 and 502 are answers for a person."""
        path = forwarding_path(domain)
        deadline = self._clock() + self._deadline_seconds
        attempt = 0
        while True:
            try:
                response = self._send_once(
                    method,
                    path,
                    json_body=body,
                    params=None,
                    kind=KIND_FORWARDING,
                    deadline=deadline,
                )
                _raise_forwarding_refusal(response, self._redact)
                self._raise_for_status(response)
                if not response.content.strip():
                    return {}
                try:
                    decoded: object = _loads(response.text)
                except ValueError as exc:
                    raise InstantlyProtocolError(
                        f"{path}: response is not JSON",
                        status_code=response.status_code,
                        raw_body=response.text,
                    ) from exc
                return decoded
            except DeadlineExceeded:
                raise
            except InstantlyTransientError as exc:
                if attempt >= self._max_read_retries:
                    raise
                delay = self._backoff(attempt)
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                self._pause(delay, f"a retry after {exc.message}", deadline, cause=exc)
                attempt += 1

    # --- Machinery ------------------------------------------------------------------------

    def _paginate(
        self,
        path: str,
        params: Mapping[str, str | int | bool],
        page_size: int,
        on_page: Callable[[int, int], None] | None,
        where: str,
    ) -> Iterator[Mapping[str, object]]:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        cursor: str | None = None
        seen: set[str] = set()
        page = 0
        while True:
            query: dict[str, str | int | bool] = {**params, "limit": page_size}
            if cursor:
                query["starting_after"] = cursor
            data, _text = self._read("GET", path, params=query)
            obj = _obj(data, where)
            items = _list(obj, "items", where)
            page += 1
            self.page_count += 1
            if on_page is not None:
                on_page(page, len(items))
            for raw in items:
                yield _obj(raw, f"{where}.items[]")
            cursor = _opt_str(obj, "next_starting_after", where)
            if not cursor or not items:
                return
            if cursor in seen:
                raise InstantlyProtocolError(
                    f"{where}: pagination cursor repeated; stopping"
                )
            seen.add(cursor)

    def _read(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | bool] | None = None,
        json_body: object = None,
        kind: str = KIND_DEFAULT,
    ) -> tuple[Any, str]:
        """Send a read-like request, retrying transient failures within the deadline.
        Returns the decoded JSON (Decimal numbers) and the raw text."""
        deadline = self._clock() + self._deadline_seconds
        attempt = 0
        while True:
            try:
                response = self._send_once(
                    method,
                    path,
                    json_body=json_body,
                    params=params,
                    kind=kind,
                    deadline=deadline,
                )
                self._raise_for_status(response)
                text = response.text
                try:
                    return _loads(text), text
                except ValueError as exc:
                    raise InstantlyProtocolError(
                        f"{path}: response is not JSON",
                        status_code=response.status_code,
                        raw_body=text,
                    ) from exc
            except DeadlineExceeded:
                raise
            except InstantlyTransientError as exc:
                if attempt >= self._max_read_retries:
                    raise
                delay = self._backoff(attempt)
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                if retry_after is not None:
                    delay = max(delay, retry_after)
                self._pause(delay, f"a retry after {exc.message}", deadline, cause=exc)
                attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt))."""
        return self._jitter() * min(
            self._backoff_cap, self._backoff_base * 2.0**attempt
        )

    def _pause(
        self,
        seconds: float,
        reason: str,
        deadline: float,
        *,
        cause: Exception | None = None,
    ) -> None:
        if self._clock() + seconds > deadline:
            raise DeadlineExceeded(
                f"deadline exceeded: would wait {seconds:.1f} s for {reason}",
                retry_after=seconds,
                request_sent=False,
            ) from cause
        if seconds <= 0:
            return
        if self._on_wait is not None:
            self._on_wait(seconds, reason)
        self._sleep(seconds)

    def _wait_for_slot(self, kind: str, deadline: float) -> None:
        if self._limiter is None:
            return
        while True:
            try:
                reservation = self._limiter.try_acquire(self.limiter_bucket, kind)
            except RateLimiterUnavailable as exc:
                raise InstantlyTransientError(
                    "rate limiter unavailable", request_sent=False
                ) from exc
            if reservation.granted:
                return
            self._pause(reservation.wait, reservation.reason, deadline)

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        json_body: object,
        params: Mapping[str, str | int | bool] | None,
        kind: str,
        deadline: float,
    ) -> httpx.Response:
        """One HTTP exchange (after the limiter grants it), with timeouts cut to the deadline.
        Transport failures become InstantlyTransientError, with `request_sent` telling whether
        anything may have reached Instantly."""
        self._wait_for_slot(kind, deadline)
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise DeadlineExceeded(
                "deadline exceeded before sending", request_sent=False
            )
        timeout = httpx.Timeout(
            connect=min(self._timeout.connect or remaining, remaining),
            read=min(self._timeout.read or remaining, remaining),
            write=min(self._timeout.write or remaining, remaining),
            pool=min(self._timeout.pool or remaining, remaining),
        )
        self.request_count += 1
        started = time.perf_counter()
        try:
            response = self._http.request(
                method, path, params=params, json=json_body, timeout=timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            self._log(method, path, type(exc).__name__, started, logging.WARNING)
            raise InstantlyTransientError(
                f"could not connect ({type(exc).__name__})", request_sent=False
            ) from exc
        except httpx.TimeoutException as exc:
            self._log(method, path, type(exc).__name__, started, logging.WARNING)
            raise InstantlyTransientError(
                f"timed out after sending ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            self._log(method, path, type(exc).__name__, started, logging.WARNING)
            raise InstantlyTransientError(
                f"connection failed ({type(exc).__name__})"
            ) from exc
        self._log(method, path, response.status_code, started, logging.INFO)
        return response

    def _log(
        self, method: str, path: str, outcome: int | str, started: float, level: int
    ) -> None:
        # Path only: no headers, no query string (cursors may be e-mail addresses).
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.log(
            level,
            "Instantly %s /%s -> %s in %.0f ms",
            method,
            path,
            outcome,
            elapsed_ms,
        )

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        text = response.text
        envelope: Mapping[str, object] = {}
        try:
            decoded = _loads(text)
            if isinstance(decoded, dict):
                envelope = decoded
        except ValueError:
            pass
        reason = (
            envelope.get("error")
            if isinstance(envelope.get("error"), str)
            else response.reason_phrase
        )
        detail = (
            envelope.get("message")
            if isinstance(envelope.get("message"), str)
            else None
        )
        message = self._redact(
            f"{status} {reason}: {detail}" if detail else f"{status} {reason}"
        )
        common: dict[str, Any] = {
            "status_code": status,
            "error": str(reason),
            "raw_body": self._redact(text),
        }
        error: InstantlyError
        if status == 400:
            code = envelope.get("code")
            keyword = envelope.get("keyword")
            error = InstantlyValidationError(
                message,
                code=code if isinstance(code, str) else None,
                keyword=keyword if isinstance(keyword, str) else None,
                **common,
            )
        elif status == 401:
            error = InstantlyAuthError(message, **common)
        elif status == 402:
            error = InstantlyPlanError(message, **common)
        elif status == 403:
            error = InstantlyScopeError(message, **common)
        elif status == 404:
            error = InstantlyNotFound(message, **common)
        elif status == 429:
            error = RateLimited(
                message,
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                request_sent=False,
                **common,
            )
        elif status >= 500 or status == 408:
            error = InstantlyTransientError(message, **common)
        elif 300 <= status < 400:
            error = InstantlyProtocolError(f"unexpected redirect ({status})", **common)
        else:
            error = InstantlyError(message, **common)
        if isinstance(error, AUTH_FAILURES) and self._on_auth_failure is not None:
            try:
                self._on_auth_failure(error)
            except Exception:
                # Recording the key's status must never hide the error itself.
                logger.exception("on_auth_failure callback failed")
        raise error

    def _finish_state_change(
        self, response: httpx.Response, what: str, parse: Callable[[str], _T]
    ) -> _T:
        """Map the answer to a sent state-changing POST: a 4xx is a definitive refusal; 2xx
        with a well-formed body is the result; anything else leaves the outcome unknown."""
        status = response.status_code
        text = response.text
        if 400 <= status < 500 and status != 408:
            self._raise_for_status(response)
        if not 200 <= status < 300:
            raise OutcomeUnknown(
                f"{what} outcome unknown: HTTP {status}",
                status_code=status,
                raw_body=text,
            )
        try:
            result = parse(text)
        except (ValueError, InstantlyProtocolError) as exc:
            raise OutcomeUnknown(
                f"{what} outcome unknown: unreadable answer ({exc})",
                status_code=status,
                raw_body=text,
            ) from exc
        if isinstance(result, OrderResult) and result.simulation is True:
            # A real order answered as a simulation contradicts the request; trust nothing.
            raise OutcomeUnknown(
                f"{what} outcome unknown: answer claims a simulation",
                status_code=status,
                raw_body=text,
            )
        return result

    def _redact(self, text: str) -> str:
        return (
            text.replace(self._key, f"····{self._key[-4:]}")
            if self._key in text
            else text
        )


_FORWARDING_REFUSALS: Final[dict[int, type[InstantlyError]]] = {
    409: ForwardingConflict,
    422: ForwardingUnsupported,
    502: ForwardingNotApplied,
}


def _raise_forwarding_refusal(
    response: httpx.Response, redact: Callable[[str], str]
) -> None:
    """409, 422 and 502 have a documented meaning on the forwarding endpoints only."""
    error_class = _FORWARDING_REFUSALS.get(response.status_code)
    if error_class is None:
        return
    text = response.text
    detail: object = None
    try:
        decoded = _loads(text)
        if isinstance(decoded, dict):
            detail = decoded.get("message")
    except ValueError:
        pass
    message = f"{response.status_code} {response.reason_phrase}"
    if isinstance(detail, str) and detail:
        message = f"{message}: {detail}"
    raise error_class(
        redact(message),
        status_code=response.status_code,
        error=response.reason_phrase,
        raw_body=redact(text),
    )


def _forwarding_check_domain(domain: str) -> None:
    if not isinstance(domain, str) or not FORWARDING_DOMAIN_PATTERN.search(domain):
        raise ValueError("domain must look like example.com")


def _order_body(payload: Mapping[str, object]) -> dict[str, object]:
    """The caller's {"order_type", "items"}; the simulation flag belongs to the method."""
    if "simulation" in payload:
        raise ValueError(
            "pass the payload without 'simulation'; simulate_order/place_order set it"
        )
    if "order_type" not in payload or "items" not in payload:
        raise ValueError("an order payload needs 'order_type' and 'items'")
    items = payload["items"]
    if not isinstance(items, list | tuple) or not items:
        # Instantly answered such an order "placed" while recording nothing: never send one.
        raise ValueError(
            "an order needs at least one item; refusing to send an empty one"
        )
    return dict(payload)
