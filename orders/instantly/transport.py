"""How the client speaks HTTP to Instantly: one TLS connection pool per process, one exchange
at a time under the shared rate limiter and the call's deadline, statuses mapped to the error
family, and the read retries (tenacity) that honour Retry-After within the deadline.

Nothing here knows an endpoint; `client.InstantlyClient` builds on `Transport`.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from ipaddress import ip_address
from typing import Any, Final, NoReturn, Self, TypeVar

import certifi
import httpx
import tenacity

from orders.instantly.errors import (
    AUTH_FAILURES,
    DeadlineExceeded,
    InstantlyAuthError,
    InstantlyError,
    InstantlyNotFound,
    InstantlyPlanError,
    InstantlyProtocolError,
    InstantlyScopeError,
    InstantlyTransientError,
    InstantlyValidationError,
    RateLimited,
)
from orders.instantly.types import loads
from orders.ratelimit import RateLimiter, RateLimiterUnavailable

# The package's name rather than this module's: log settings and filters name it.
logger = logging.getLogger("orders.instantly")
_T = TypeVar("_T")

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=15.0, write=10.0, pool=5.0)


# --- The connection pool ----------------------------------------------------------------


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


# Clients over the shared pool, by process, address and key: building an httpx.Client costs
# about 0.2 ms (headers, URL parsing, proxy look-up), on every quote the builder asks for.
# A handful of keys per process at most; a replaced key's client is dropped when it falls
# out of the cache (closing it would close nothing: the pool is borrowed).
@functools.lru_cache(maxsize=16)
def _pooled_http_client(pid: int, base_url: str, api_key: str) -> httpx.Client:
    # No client-wide timeout matters: every request passes its own, cut to its deadline.
    return httpx.Client(
        verify=_tls_context(),
        base_url=base_url,
        headers=_headers(api_key),
        timeout=DEFAULT_TIMEOUT,
        follow_redirects=False,
        transport=shared_transport(),
    )


def _headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": "dfyportal/0.1",
    }


# Parsed once per address: a web process builds a client for every quote it asks for, and
# parsing the URL is a measurable share of that (docs/performance.md, "Quote overhead"). A
# refused address is not cached: it raises each time.
@functools.lru_cache(maxsize=64)
def _checked_base_url(base_url: str) -> str:
    url = httpx.URL(base_url.rstrip("/") + "/")
    if url.scheme not in {"https", "http"} or (
        url.scheme == "http" and not plain_http_allowed(url)
    ):
        raise ValueError(
            f"refusing to send an API key to {url.scheme}://{url.host}: use https"
        )
    return str(url)


def plain_http_allowed(url: httpx.URL) -> bool:
    """Plain http only towards this machine, an internal host (no dot, e.g. a compose
    service) or the portal's sandbox: never send a live key unencrypted across a network."""
    host = url.host
    if host == "localhost" or "." not in host or "/sandbox/" in url.path:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(value: str | None) -> float | None:
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


def _retried(error: BaseException) -> bool:
    # A passed deadline is final for this call; any other transient failure may be retried.
    return isinstance(error, InstantlyTransientError) and not isinstance(
        error, DeadlineExceeded
    )


def _failure(state: tenacity.RetryCallState) -> InstantlyTransientError:
    error = state.outcome.exception() if state.outcome is not None else None
    if not isinstance(error, InstantlyTransientError):
        raise TypeError("only transient errors are retried")
    return error


class _WaitPassesDeadline(tenacity.stop.stop_base):
    """Stop when the wait before the next attempt would end after the call's deadline."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep > self._deadline


# --- One key's exchange --------------------------------------------------------------------


class Transport:
    """One key's HTTP exchange with Instantly (see `InstantlyClient` for the options)."""

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
        self._key = api_key
        self.base_url = _checked_base_url(base_url)
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
        # Every HTTP attempt and every list page, for the callers' own reports.
        self.request_count = 0
        self.page_count = 0
        # Over the shared pool, a client per process and key is kept for the next call.
        self._pooled = transport is not None and transport is _pools.get(os.getpid())
        self._http = (
            _pooled_http_client(os.getpid(), self.base_url, api_key)
            if self._pooled
            else httpx.Client(
                verify=_tls_context(),
                base_url=self.base_url,
                headers=_headers(api_key),
                timeout=self._timeout,
                follow_redirects=False,
                transport=transport,
            )
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url} key=····{self._key[-4:]} bucket={self.limiter_bucket}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._pooled:
            self._http.close()

    def _deadline(self) -> float:
        """When a call starting now must end, its retries and waits included."""
        return self._clock() + self._deadline_seconds

    # --- Retries --------------------------------------------------------------------------

    def _retrying(self, attempt: Callable[[], _T], deadline: float) -> _T:
        """`attempt()` until it returns. A transient failure other than DeadlineExceeded is
        tried again at most `max_read_retries` times, after a full-jitter backoff that is at
        least a 429's Retry-After, announced to `on_wait`; a wait that would pass `deadline`
        raises DeadlineExceeded instead. Each attempt takes its own limiter slot."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retried),
            wait=self._retry_wait,
            stop=tenacity.stop_after_attempt(self._max_read_retries + 1)
            | _WaitPassesDeadline(deadline, self._clock),
            retry_error_callback=self._give_up,
            before_sleep=self._announce_retry,
            sleep=self._sleep_if_positive,
        )
        return retrying(attempt)

    def _retry_wait(self, state: tenacity.RetryCallState) -> float:
        error = _failure(state)
        delay = self._backoff(state.attempt_number - 1)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay

    def _give_up(self, state: tenacity.RetryCallState) -> NoReturn:
        """Spent retries re-raise the last failure; a wait past the deadline raises DeadlineExceeded."""
        error = _failure(state)
        if state.attempt_number > self._max_read_retries:
            raise error
        seconds = state.upcoming_sleep
        raise DeadlineExceeded(
            f"deadline exceeded: would wait {seconds:.1f} s for a retry after {error.message}",
            retry_after=seconds,
            request_sent=False,
        ) from error

    def _announce_retry(self, state: tenacity.RetryCallState) -> None:
        if state.upcoming_sleep > 0 and self._on_wait is not None:
            self._on_wait(
                state.upcoming_sleep, f"a retry after {_failure(state).message}"
            )

    def _sleep_if_positive(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt))."""
        return self._jitter() * min(
            self._backoff_cap, self._backoff_base * 2.0**attempt
        )

    # --- One exchange ---------------------------------------------------------------------

    def _read(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        params: Mapping[str, str | int | bool] | None = None,
        json_body: object = None,
    ) -> tuple[Any, str]:
        """Send a read-like request, retrying transient failures within the deadline.
        Returns the decoded JSON (`types.loads`) and the raw text."""

        def attempt() -> tuple[Any, str]:
            response = self._send_once(
                method,
                path,
                json_body=json_body,
                params=params,
                kind=kind,
                deadline=deadline,
            )
            self._raise_for_status(response)
            return self._decoded(response, path), response.text

        deadline = self._deadline()
        return self._retrying(attempt, deadline)

    def _decoded(self, response: httpx.Response, path: str) -> Any:
        text = response.text
        try:
            return loads(text)
        except ValueError as exc:
            raise InstantlyProtocolError(
                f"{path}: response is not JSON",
                status_code=response.status_code,
                raw_body=text,
            ) from exc

    def _pause(self, seconds: float, reason: str, deadline: float) -> None:
        if self._clock() + seconds > deadline:
            raise DeadlineExceeded(
                f"deadline exceeded: would wait {seconds:.1f} s for {reason}",
                retry_after=seconds,
                request_sent=False,
            )
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

    # --- Statuses -------------------------------------------------------------------------

    def _raise_for_status(self, response: httpx.Response) -> None:
        if 200 <= response.status_code < 300:
            return
        error = self._error_for(response)
        if isinstance(error, AUTH_FAILURES) and self._on_auth_failure is not None:
            try:
                self._on_auth_failure(error)
            except Exception:
                # Recording the key's status must never hide the error itself.
                logger.exception("on_auth_failure callback failed")
        raise error

    def _error_for(self, response: httpx.Response) -> InstantlyError:
        """The error family's member for a non-2xx answer, from Instantly's envelope
        `{"statusCode", "error", "message"}` when there is one, else the status line."""
        status = response.status_code
        text = response.text
        envelope = self._envelope(text)
        error = envelope.get("error")
        reason = error if isinstance(error, str) else response.reason_phrase
        detail = envelope.get("message")
        message = self._redact(
            f"{status} {reason}: {detail}"
            if isinstance(detail, str) and detail
            else f"{status} {reason}"
        )
        common: dict[str, Any] = {
            "status_code": status,
            "error": str(reason),
            "raw_body": self._redact(text),
        }
        if status == 400:
            code = envelope.get("code")
            keyword = envelope.get("keyword")
            return InstantlyValidationError(
                message,
                code=code if isinstance(code, str) else None,
                keyword=keyword if isinstance(keyword, str) else None,
                **common,
            )
        if status == 429:
            return RateLimited(
                message,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                request_sent=False,
                **common,
            )
        by_status: dict[int, type[InstantlyError]] = {
            401: InstantlyAuthError,
            402: InstantlyPlanError,
            403: InstantlyScopeError,
            404: InstantlyNotFound,
        }
        if status in by_status:
            return by_status[status](message, **common)
        if status >= 500 or status == 408:
            return InstantlyTransientError(message, **common)
        if 300 <= status < 400:
            return InstantlyProtocolError(f"unexpected redirect ({status})", **common)
        return InstantlyError(message, **common)

    @staticmethod
    def _envelope(text: str) -> Mapping[str, object]:
        try:
            decoded = loads(text)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}

    def _redact(self, text: str) -> str:
        return (
            text.replace(self._key, f"····{self._key[-4:]}")
            if self._key in text
            else text
        )
