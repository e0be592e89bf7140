"""The Instantly API v2 client for the DFY endpoints: an I/O boundary with no Django models.

One `InstantlyClient` per key owns one `httpx.Client` (explicit timeouts, no redirects) and
offers one method per endpoint, returning frozen msgspec Structs. JSON numbers are parsed as
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

Modules: `errors` (the error family), `types` (the answers and how they are read),
`transport` (connection pool, one exchange, limiter, statuses, retries), `client` (the
endpoints). Import from the package: the names below are its interface.
"""

from __future__ import annotations

from orders.instantly.client import (
    ACCOUNTS_PATH,
    CANCEL_PATH,
    CHECK_PATH,
    FORWARDING_DOMAIN_PATTERN,
    MAX_CHECK_DOMAINS,
    MAX_PAGE_SIZE,
    ORDERS_PATH,
    PRE_WARMED_EXTENSIONS,
    PRE_WARMED_PATH,
    SENDING_ACCOUNT_FILTERS,
    SENDING_ACCOUNTS_PATH,
    SIMILAR_PATH,
    SIMILAR_TLDS,
    InstantlyClient,
    ListPage,
    forwarding_path,
    sending_account_path,
)
from orders.instantly.errors import (
    AUTH_FAILURES,
    FORBIDDEN_HINT,
    DeadlineExceeded,
    ForwardingConflict,
    ForwardingNotApplied,
    ForwardingUnsupported,
    InstantlyAuthError,
    InstantlyError,
    InstantlyNotFound,
    InstantlyPlanError,
    InstantlyProtocolError,
    InstantlyScopeError,
    InstantlyTransientError,
    InstantlyValidationError,
    OutcomeUnknown,
    RateLimited,
    SimulationNotEchoed,
)
from orders.instantly.transport import DEFAULT_TIMEOUT, shared_transport
from orders.instantly.types import (
    FORWARDING_MODES,
    DomainAvailability,
    DomainForwarding,
    InvalidAccount,
    OrderedAccount,
    OrderResult,
    PreWarmedDomain,
    PricedItem,
    RemoteAccount,
    RemoteOrder,
    SendingAccount,
    parse_order_result,
)

__all__ = [
    "ACCOUNTS_PATH",
    "AUTH_FAILURES",
    "CANCEL_PATH",
    "CHECK_PATH",
    "DEFAULT_TIMEOUT",
    "FORBIDDEN_HINT",
    "FORWARDING_DOMAIN_PATTERN",
    "FORWARDING_MODES",
    "MAX_CHECK_DOMAINS",
    "MAX_PAGE_SIZE",
    "ORDERS_PATH",
    "PRE_WARMED_EXTENSIONS",
    "PRE_WARMED_PATH",
    "SENDING_ACCOUNTS_PATH",
    "SENDING_ACCOUNT_FILTERS",
    "SIMILAR_PATH",
    "SIMILAR_TLDS",
    "DeadlineExceeded",
    "DomainAvailability",
    "DomainForwarding",
    "ForwardingConflict",
    "ForwardingNotApplied",
    "ForwardingUnsupported",
    "InstantlyAuthError",
    "InstantlyClient",
    "InstantlyError",
    "InstantlyNotFound",
    "InstantlyPlanError",
    "InstantlyProtocolError",
    "InstantlyScopeError",
    "InstantlyTransientError",
    "InstantlyValidationError",
    "InvalidAccount",
    "ListPage",
    "OrderResult",
    "OrderedAccount",
    "OutcomeUnknown",
    "PreWarmedDomain",
    "PricedItem",
    "RateLimited",
    "RemoteAccount",
    "RemoteOrder",
    "SendingAccount",
    "SimulationNotEchoed",
    "forwarding_path",
    "parse_order_result",
    "sending_account_path",
    "shared_transport",
]
