"""The client's error family. Callers catch these, never httpx's or msgspec's exceptions.

Messages come from Instantly's error envelope and never hold the API key.
"""

from __future__ import annotations

from typing import Any, Final


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


class Malformed(InstantlyProtocolError):
    """A JSON answer whose shape or field types break the contract; the message names the
    field (`order: Expected `bool`, got `str` - at `$.order_placed``)."""


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

# 409, 422 and 502 have a documented meaning on the forwarding endpoints only.
FORWARDING_REFUSALS: Final[dict[int, type[InstantlyError]]] = {
    409: ForwardingConflict,
    422: ForwardingUnsupported,
    502: ForwardingNotApplied,
}
