"""`InstantlyClient`: one method per DFY endpoint, on top of `transport.Transport`.

Reads are retried (`Transport._retrying`); `place_order` and `cancel_accounts` are sent at
most once; the forwarding changes are retried like reads except for their documented
refusals. The package docstring (`orders/instantly/__init__.py`) has the whole policy.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import httpx

from orders.instantly.errors import (
    FORWARDING_REFUSALS,
    InstantlyProtocolError,
    InstantlyTransientError,
    OutcomeUnknown,
    SimulationNotEchoed,
)
from orders.instantly.transport import Transport
from orders.instantly.types import (
    FORWARDING_MODES,
    CheckAnswer,
    DomainAvailability,
    DomainForwarding,
    ForwardingAnswer,
    OrderResult,
    Page,
    PreWarmedAnswer,
    PreWarmedDomain,
    RemoteAccount,
    RemoteOrder,
    SendingAccount,
    SimilarAnswer,
    convert,
    loads,
    order_result,
)
from orders.ratelimit import KIND_CHECK, KIND_DEFAULT, KIND_FORWARDING

_T = TypeVar("_T")

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
# Instantly's general accounts API (scope `accounts:read`), which reports mailbox health.
SENDING_ACCOUNTS_PATH: Final = "accounts"
# The published values of its list's `filter` parameter.
SENDING_ACCOUNT_FILTERS: Final = frozenset(
    {
        "ACC_FILTER_PAUSED",
        "ACC_FILTER_ERROR",
        "ACC_FILTER_NO_CTD",
        "ACC_FILTER_PW_ACCOUNTS",
        "ACC_FILTER_DFY",
        "ACC_FILTER_DFY_SETUP_PENDING",
        "ACC_FILTER_W_ACTIVE",
        "ACC_FILTER_W_PAUSED",
        "ACC_FILTER_W_ERROR",
    }
)
# The published pattern of a forwarding path's {domain} and of the body's forwarding_domain.
FORWARDING_DOMAIN_PATTERN: Final = re.compile(r"^\s*\S+\.[a-zA-Z]{2,}\s*$")


def sending_account_path(email: str) -> str:
    """accounts/{email}, the address percent-encoded (all but @) so it stays one segment."""
    return f"{SENDING_ACCOUNTS_PATH}/{urllib.parse.quote(email.strip(), safe='@')}"


def forwarding_path(domain: str) -> str:
    """domains/{domain}/forwarding, the domain percent-encoded so it stays one path segment."""
    return f"domains/{urllib.parse.quote(domain.strip(), safe='')}/forwarding"


@dataclass(frozen=True)
class ListPage(Generic[_T]):
    """One page of a list endpoint as read. `starting_after` is the cursor that asked for it
    (None for the first page): asking with it again reads this page again, which is how a
    caller resumes a walk later. Cursors are opaque and only ever ones Instantly issued."""

    starting_after: str | None
    items: tuple[_T, ...]
    next_starting_after: str | None


class InstantlyClient(Transport):
    """One key's connection to Instantly's DFY endpoints. Not thread-safe; build one per task.

    `limiter` (shared across processes) is consulted before every HTTP request, retries
    included; None disables limiting (tests). `on_wait(seconds, reason)` is told about every
    wait (limiter or backoff) before the client sleeps. `on_auth_failure(error)` is called
    with every 401/402/403 error before it is raised, whichever method met it. Every call
    ends within `deadline_seconds` or raises DeadlineExceeded; reads are tried at most
    `1 + max_read_retries` times.
    """

    def verify(self) -> None:
        """Prove the key works for DFY: the cheapest call that needs only DFY read scopes.
        Raises InstantlyAuthError / InstantlyScopeError / InstantlyPlanError, or a transient
        error when Instantly cannot be reached. Read: retried."""
        data, _text = self._read(
            "GET", ORDERS_PATH, params={"limit": 1}, kind=KIND_DEFAULT
        )
        convert(data, Page[Any], "orders")

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
        return list(convert(data, CheckAnswer, "check").results)

    def similar_domains(
        self, domain: str, tlds: Sequence[str] = ("com", "org")
    ) -> list[str]:
        """Available domains similar to `domain` (up to 67 per TLD). A trademark keyword raises
        InstantlyValidationError with code "restricted_domain" and the keyword. Retried."""
        if isinstance(tlds, str) or not tlds or not set(tlds) <= SIMILAR_TLDS:
            raise ValueError("tlds must be a non-empty sequence of 'com' and/or 'org'")
        body = {"domain": domain, "tlds": list(dict.fromkeys(tlds))}
        data, _text = self._read(
            "POST", SIMILAR_PATH, json_body=body, kind=KIND_DEFAULT
        )
        return list(convert(data, SimilarAnswer, "similar").domains)

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
        data, _text = self._read(
            "POST", PRE_WARMED_PATH, json_body=body, kind=KIND_DEFAULT
        )
        return convert(data, PreWarmedAnswer, "pre_warmed").stock()

    def simulate_order(self, payload: Mapping[str, object]) -> OrderResult:
        """Validate and price `payload` ({"order_type", "items"}) without buying anything.

        Read-like: retried like a read. Raises SimulationNotEchoed unless the answer says
        `simulation: true` and `order_placed: false`, so a quote can never stem from a real order.
        """
        body = {**_order_body(payload), "simulation": True}
        data, text = self._read("POST", ORDERS_PATH, json_body=body, kind=KIND_DEFAULT)
        result = order_result(data, text)
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
        try:
            response = self._send_once(
                "POST",
                ORDERS_PATH,
                json_body=body,
                params=None,
                kind=KIND_DEFAULT,
                deadline=self._deadline(),
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
            response, "order", lambda text: order_result(loads(text), text)
        )

    def iter_orders(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        starting_after: str | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[RemoteOrder]:
        """Every ordered domain (after `starting_after`), oldest first, following cursors
        lazily; one request per page (each page is one call with its own deadline and read
        retries). `on_page(page_number, items)`."""
        pages = self.order_pages(page_size=page_size, starting_after=starting_after)
        for number, page in enumerate(pages, start=1):
            if on_page is not None:
                on_page(number, len(page.items))
            yield from page.items

    def order_pages(
        self, *, page_size: int = MAX_PAGE_SIZE, starting_after: str | None = None
    ) -> Iterator[ListPage[RemoteOrder]]:
        """The orders list page by page, each with the cursor that asked for it. A cursor
        Instantly does not accept raises InstantlyValidationError (400) on the first page."""
        yield from self._pages(
            ORDERS_PATH, {}, page_size, starting_after, Page[RemoteOrder], "orders"
        )

    def iter_accounts(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        with_passwords: bool = False,
        starting_after: str | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[RemoteAccount]:
        """Every ordered mailbox (after `starting_after`), oldest first, following cursors
        lazily. With `with_passwords`, an empty password marks a mailbox still being
        provisioned; passwords are secrets (never log)."""
        pages = self.account_pages(
            page_size=page_size,
            with_passwords=with_passwords,
            starting_after=starting_after,
        )
        for number, page in enumerate(pages, start=1):
            if on_page is not None:
                on_page(number, len(page.items))
            yield from page.items

    def account_pages(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        with_passwords: bool = False,
        starting_after: str | None = None,
    ) -> Iterator[ListPage[RemoteAccount]]:
        """The accounts list page by page, like `order_pages`."""
        params: dict[str, str | int | bool] = (
            {"with_passwords": True} if with_passwords else {}
        )
        yield from self._pages(
            ACCOUNTS_PATH,
            params,
            page_size,
            starting_after,
            Page[RemoteAccount],
            "accounts",
        )

    def iter_sending_accounts(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        starting_after: str | None = None,
        search: str | None = None,
        filter: str | None = None,  # the published name (shadows the builtin)
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[SendingAccount]:
        """Every sending account of the accounts API (after `starting_after`), oldest first,
        following cursors lazily, like `iter_accounts`."""
        pages = self.sending_account_pages(
            page_size=page_size,
            starting_after=starting_after,
            search=search,
            filter=filter,
        )
        for number, page in enumerate(pages, start=1):
            if on_page is not None:
                on_page(number, len(page.items))
            yield from page.items

    def sending_account_pages(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        starting_after: str | None = None,
        search: str | None = None,
        filter: str | None = None,  # the published name (shadows the builtin)
    ) -> Iterator[ListPage[SendingAccount]]:
        """The accounts API's list page by page, like `order_pages`: `search` is a substring
        of the address, `filter` one of SENDING_ACCOUNT_FILTERS (ACC_FILTER_DFY: DFY
        mailboxes only). Needs the key's `accounts` read scope. Read: retried."""
        params: dict[str, str | int | bool] = {}
        if search:
            params["search"] = search
        if filter is not None:
            if filter not in SENDING_ACCOUNT_FILTERS:
                raise ValueError(
                    f"filter must be one of {sorted(SENDING_ACCOUNT_FILTERS)}"
                )
            params["filter"] = filter
        yield from self._pages(
            SENDING_ACCOUNTS_PATH,
            params,
            page_size,
            starting_after,
            Page[SendingAccount],
            "sending accounts",
        )

    def sending_account(self, email: str) -> SendingAccount:
        """One sending account by address. An address Instantly does not know raises
        InstantlyNotFound (404). Read: retried."""
        if not isinstance(email, str) or "@" not in email:
            raise ValueError("email must be an address like jane@example.com")
        data, _text = self._read("GET", sending_account_path(email), kind=KIND_DEFAULT)
        return convert(data, SendingAccount, "sending account")

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
        try:
            response = self._send_once(
                "POST",
                CANCEL_PATH,
                json_body={"accounts": list(emails)},
                params=None,
                kind=KIND_DEFAULT,
                deadline=self._deadline(),
            )
        except InstantlyTransientError as exc:
            if not exc.request_sent:
                raise
            raise OutcomeUnknown(
                f"cancellation outcome unknown: {exc.message}"
            ) from exc

        def parse(text: str) -> list[RemoteAccount]:
            return list(convert(loads(text), Page[RemoteAccount], "cancel").items)

        return self._finish_state_change(response, "cancellation", parse)

    def get_forwarding(self, domain: str) -> DomainForwarding:
        """The web forwarding of a domain ordered through Instantly. Read: retried."""
        _forwarding_check_domain(domain)
        data, _text = self._read("GET", forwarding_path(domain), kind=KIND_DEFAULT)
        return convert(data, ForwardingAnswer, "forwarding").for_domain(domain)

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
        return convert(data, ForwardingAnswer, "forwarding").for_domain(domain)

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

        def attempt() -> object:
            response = self._send_once(
                method,
                path,
                json_body=body,
                params=None,
                kind=KIND_FORWARDING,
                deadline=deadline,
            )
            self._raise_forwarding_refusal(response)
            self._raise_for_status(response)
            if not response.content.strip():
                return {}
            decoded: object = self._decoded(response, path)
            return decoded

        deadline = self._deadline()
        return self._retrying(attempt, deadline)

    # --- Machinery ------------------------------------------------------------------------

    def _pages(
        self,
        path: str,
        params: Mapping[str, str | int | bool],
        page_size: int,
        starting_after: str | None,
        page_type: type[Page[_T]],
        where: str,
    ) -> Iterator[ListPage[_T]]:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        cursor = starting_after or None
        seen = {cursor} if cursor else set()
        while True:
            query: dict[str, str | int | bool] = {**params, "limit": page_size}
            if cursor:
                query["starting_after"] = cursor
            data, _text = self._read("GET", path, params=query, kind=KIND_DEFAULT)
            page = convert(data, page_type, where)
            self.page_count += 1
            following = page.next_starting_after or None
            yield ListPage(cursor, page.items, following if page.items else None)
            if not following or not page.items:
                return
            if following in seen:
                raise InstantlyProtocolError(
                    f"{where}: pagination cursor repeated; stopping"
                )
            seen.add(following)
            cursor = following

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

    def _raise_forwarding_refusal(self, response: httpx.Response) -> None:
        """409, 422 and 502 have a documented meaning on the forwarding endpoints only."""
        error_class = FORWARDING_REFUSALS.get(response.status_code)
        if error_class is None:
            return
        detail = self._envelope(response.text).get("message")
        message = f"{response.status_code} {response.reason_phrase}"
        if isinstance(detail, str) and detail:
            message = f"{message}: {detail}"
        raise error_class(
            self._redact(message),
            status_code=response.status_code,
            error=response.reason_phrase,
            raw_body=self._redact(response.text),
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
