"""Instantly's answers as declared, frozen types, read with msgspec.

An answer is decoded by `loads` (every fraction a Decimal, null members dropped, so a null
reads like an absent field) and converted by `convert` with `msgspec.convert(strict=True)`:
unknown fields are ignored because Instantly's schema grows often; absent lists read as
empty and absent optional fields as None; a missing or mistyped field raises `Malformed`
naming its path. Numbers are never read from strings, nor booleans from numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    NoReturn,
    TypeVar,
    get_args,
)

import msgspec

from orders.instantly.errors import Malformed

_T = TypeVar("_T")

ForwardingMode = Literal["redirect", "stealth"]
FORWARDING_MODES: Final[tuple[str, ...]] = get_args(ForwardingMode)


# --- Decoding -----------------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"non-finite number {name}")


def _without_nulls(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in pairs if value is not None}


def loads(text: str) -> Any:
    """JSON with every fractional number as Decimal (money must never pass through float) and
    without null members. Raises ValueError for anything that is not JSON (NaN included)."""
    return json.loads(
        text,
        parse_float=Decimal,
        parse_constant=_reject_constant,
        object_pairs_hook=_without_nulls,
    )


# --- Field types msgspec does not read the way the contract needs ------------------------
# msgspec hands a value meant for a type it does not know to `dec_hook` and then checks the
# result with isinstance. Each marker below names a reader, and its metaclass makes that
# check accept the plain value the reader returns, so results hold plain Decimal, int and
# datetime. For the type checker the markers are those plain types.


class _ReadAs(type):
    accepts: tuple[type, ...]
    read: Callable[[object], object]

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, cls.accepts)


def _number(value: object) -> int | Decimal:
    # bool is an int subclass: true/false is never a number.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("expected a number")
    return value


def _money(value: object) -> Decimal:
    return Decimal(_number(value))


def _measure(value: object) -> float:
    return float(_number(value))


def _whole(value: object) -> int:
    number = _number(value)
    if isinstance(number, Decimal):
        if number != number.to_integral_value():
            raise ValueError("expected a whole number")
        return int(number)
    return number


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected an ISO-8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _optional_timestamp(value: object) -> datetime | None:
    # Active accounts carry "" (or null) in the required timestamp_cancelled field.
    return None if value == "" else _timestamp(value)


if TYPE_CHECKING:
    from typing import TypeAlias

    Money: TypeAlias = Decimal
    Measure: TypeAlias = float
    WholeNumber: TypeAlias = int
    Timestamp: TypeAlias = datetime
    OptionalTimestamp: TypeAlias = datetime | None
else:

    class Money(metaclass=_ReadAs):
        """An amount: a JSON number (int or Decimal), never a string or a boolean."""

        accepts = (Decimal,)
        read = staticmethod(_money)

    class Measure(metaclass=_ReadAs):
        """A float that is not money (a score): a JSON number, never a string or boolean."""

        accepts = (float,)
        read = staticmethod(_measure)

    class WholeNumber(metaclass=_ReadAs):
        """An int; a fraction with nothing after the point (3.0) counts as one."""

        accepts = (int,)
        read = staticmethod(_whole)

    class Timestamp(metaclass=_ReadAs):
        """ISO-8601 as Python reads it; a time without zone is UTC."""

        accepts = (datetime,)
        read = staticmethod(_timestamp)

    class OptionalTimestamp(metaclass=_ReadAs):
        """A Timestamp, or None for ""."""

        accepts = (datetime, type(None))
        read = staticmethod(_optional_timestamp)


def _read_field(kind: type, value: object) -> object:
    if isinstance(kind, _ReadAs):
        return kind.read(value)
    raise NotImplementedError(f"no reader for {kind!r}")


def convert(data: object, kind: type[_T], where: str) -> _T:
    """`data` (from `loads`) as `kind`, or Malformed naming the answer and the field."""
    try:
        return msgspec.convert(data, kind, strict=True, dec_hook=_read_field)
    except msgspec.ValidationError as exc:
        raise Malformed(f"{where}: {exc}") from exc


def _fields_but(struct: msgspec.Struct, hidden: str) -> list[tuple[str, Any]]:
    """(name, value) of every field but `hidden`: what repr and rich may show."""
    return [
        (name, getattr(struct, name))
        for name in struct.__struct_fields__
        if name != hidden
    ]


def _repr(struct: msgspec.Struct, fields: list[tuple[str, Any]]) -> str:
    shown = ", ".join(f"{name}={value!r}" for name, value in fields)
    return f"{type(struct).__name__}({shown})"


# --- Results ------------------------------------------------------------------------------


class DomainAvailability(msgspec.Struct, frozen=True):
    domain: str
    available: bool
    unavailable_reason: str | None = None  # "restricted" (trademark) when present
    restricted_keyword: str | None = None


class PreWarmedDomain(msgspec.Struct, frozen=True):
    domain: str
    # Provider code 1/2/3; None when Instantly listed the domain only in `domains`.
    account_type: WholeNumber | None


class OrderedAccount(msgspec.Struct, frozen=True):
    email_address_prefix: str
    first_name: str
    last_name: str


class PricedItem(msgspec.Struct, frozen=True, kw_only=True):
    domain: str
    email_provider: WholeNumber
    accounts: tuple[OrderedAccount, ...] = ()
    domain_price: Money
    accounts_price: Money
    total_price: Money
    total_discount: Money
    forwarding_domain: str | None = None
    domain_monthly_price: Money | None = None


class InvalidAccount(msgspec.Struct, frozen=True, kw_only=True):
    # All five are required by the schema, but a missing name is exactly what this list
    # reports ("First name is required"), so absent strings read as empty rather than fail.
    domain: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    reason: str = ""


class OrderResult(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of the order endpoint, simulated or real. Money is Decimal or None."""

    order_placed: bool
    order_is_valid: bool
    simulation: bool | None = None
    order_error: str | None = None
    payment_failure_reason: str | None = None
    unavailable_domains: tuple[str, ...] = ()
    blacklist_domains: tuple[str, ...] = ()
    blacklist_keywords: tuple[str, ...] = ()
    invalid_domains: tuple[str, ...] = ()
    invalid_forwarding_domains: tuple[str, ...] = ()
    missing_domain_orders: tuple[str, ...] = ()
    provider_mismatch_domains: tuple[str, ...] = ()
    unsupported_provider_domains: tuple[str, ...] = ()
    unavailable_email_providers: tuple[WholeNumber, ...] = ()
    domains_without_accounts: tuple[str, ...] = ()
    free_domains: tuple[str, ...] = ()
    invalid_accounts: tuple[InvalidAccount, ...] = ()
    number_of_domains_ordered: WholeNumber | None = None
    number_of_accounts_ordered: WholeNumber | None = None
    price_per_account_per_month: Money | None = None
    price_per_account_per_month_by_account_type: dict[str, Money] | None = None
    price_per_domain_per_month: Money | None = None
    price_per_domain_per_year: Money | None = None
    total_domains_price_per_year: Money | None = None
    total_accounts_price_per_month: Money | None = None
    total_price_per_month: Money | None = None
    total_price_per_year: Money | None = None
    total_price: Money | None = None
    total_discount: Money | None = None
    payment_method_brand: str | None = None
    payment_method_last_4_digits: str | None = None
    payment_method_name_on_card: str | None = None
    checkout_required: bool | None = None
    checkout_url: str | None = None
    cart_order_id: str | None = None
    order_items: tuple[PricedItem, ...] = ()
    raw_body: str = ""  # the answer verbatim, for audit; set by `order_result`

    def __repr__(self) -> str:
        return _repr(self, self.__rich_repr__())

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return _fields_but(self, "raw_body")


class RemoteOrder(msgspec.Struct, frozen=True):
    """One ordered domain as the orders list reports it (the API has no order id or status)."""

    workspace_id: str
    domain: str
    timestamp_created: Timestamp
    timestamp_cancelled: OptionalTimestamp = None
    forwarding_domain: str | None = None
    forwarding_mode: str | None = None
    is_pre_warmed_up: bool | None = None


class RemoteAccount(msgspec.Struct, frozen=True):
    """One ordered mailbox. `password` is a secret (only with `with_passwords`); an empty one
    means "not provisioned yet", which `is_ready` exposes without touching the value."""

    id: str
    domain: str
    email: str
    email_provider: WholeNumber
    first_name: str
    last_name: str
    is_pre_warmed_up: bool
    timestamp_created: Timestamp
    timestamp_cancelled: OptionalTimestamp = None
    password: str | None = None

    def __repr__(self) -> str:
        return _repr(self, self.__rich_repr__())

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        return _fields_but(self, "password")

    @property
    def is_ready(self) -> bool:
        return bool(self.password)

    @property
    def is_cancelled(self) -> bool:
        return self.timestamp_cancelled is not None


class SendingAccount(msgspec.Struct, frozen=True, kw_only=True):
    """One mailbox as Instantly's accounts API reports it (GET /accounts): connection, setup
    and warmup. `status`: 1 active, 2 paused, 3 paused for maintenance, -1 connection error,
    -2 soft bounce error, -3 sending error. `warmup_status`: 0 paused, 1 active, -1 banned,
    -2 spam folder unknown, -3 permanent suspension. `provider_code` is the accounts API's
    list (2 Google, 3 Microsoft, 8 AirMail), not the DFY one (docs/instantly.md)."""

    email: str
    # Not marked required by the schema, but read-only and in every answer Instantly documents.
    status: WholeNumber
    warmup_status: WholeNumber
    setup_pending: bool
    provider_code: WholeNumber
    stat_warmup_score: Measure | None = None
    daily_limit: WholeNumber | None = None
    timestamp_warmup_start: OptionalTimestamp = None


class DomainForwarding(msgspec.Struct, frozen=True):
    """A domain's web forwarding. Both values are None when nothing is configured."""

    domain: str
    forwarding_domain: str | None = None
    forwarding_mode: str | None = None  # "redirect" or "stealth"


def parse_order_result(text: str) -> OrderResult:
    """An order answer from its raw text, e.g. a stored quote's response body."""
    return order_result(loads(text), text)


def order_result(decoded: object, text: str) -> OrderResult:
    if isinstance(decoded, dict):
        # Set here, so a key of the answer's own never reaches raw_body.
        decoded = {**decoded, "raw_body": text}
    return convert(decoded, OrderResult, "order")


# --- Answers that are only read on the way to a result ------------------------------------


class Page(msgspec.Struct, Generic[_T], frozen=True):
    """One page of a list endpoint; an absent or empty cursor marks the last page."""

    items: tuple[_T, ...] = ()
    next_starting_after: str | None = None


class CheckAnswer(msgspec.Struct, frozen=True):
    results: tuple[DomainAvailability, ...] = ()


class SimilarAnswer(msgspec.Struct, frozen=True):
    domains: tuple[str, ...] = ()


class PreWarmedAnswer(msgspec.Struct, frozen=True):
    domains_with_type: tuple[PreWarmedDomain, ...] = ()
    domains: tuple[str, ...] = ()  # the older list, without providers

    def stock(self) -> list[PreWarmedDomain]:
        """Typed entries first; a domain only in the older list comes with no provider."""
        typed = {entry.domain: entry for entry in self.domains_with_type}
        for domain in self.domains:
            typed.setdefault(domain, PreWarmedDomain(domain, None))
        return list(typed.values())


class ForwardingAnswer(msgspec.Struct, frozen=True):
    domain: str = ""
    forwarding_domain: str = ""
    forwarding_mode: ForwardingMode | None = None

    def for_domain(self, domain: str) -> DomainForwarding:
        """The answer for `domain` (the one asked about, when the answer does not name it)."""
        return DomainForwarding(
            domain=self.domain or domain,
            forwarding_domain=self.forwarding_domain or None,
            forwarding_mode=self.forwarding_mode,
        )
