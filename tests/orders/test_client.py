"""InstantlyClient against recorded bodies through httpx.MockTransport: no network, no DB."""

from __future__ import annotations

import ast
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path

import httpx
import msgspec
import pytest
import time_machine

from orders.instantly import (
    DeadlineExceeded,
    DomainAvailability,
    InstantlyAuthError,
    InstantlyClient,
    InstantlyError,
    InstantlyNotFound,
    InstantlyPlanError,
    InstantlyProtocolError,
    InstantlyScopeError,
    InstantlyTransientError,
    InstantlyValidationError,
    InvalidAccount,
    OutcomeUnknown,
    PreWarmedDomain,
    RateLimited,
    SimulationNotEchoed,
)
from orders.ratelimit import MemoryRateLimiter

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "api"
BASE = "https://api.instantly.test/api/v2"
KEY = "sk_test_Q1w2E3r4T5y6U7i8O9p0AsDfGhJk"
PAYLOAD = {
    "order_type": "dfy",
    "items": [
        {
            "domain": "acme-mail.com",
            "email_provider": 1,
            "accounts": [
                {
                    "email_address_prefix": "jane",
                    "first_name": "Jane",
                    "last_name": "Roe",
                }
            ],
        }
    ],
}


def body(name):
    return (FIXTURES / f"{name}.json").read_text()


def reply(status=200, name=None, text=None, headers=None):
    content = body(name) if name else (text or "")
    return httpx.Response(
        status,
        text=content,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def fail(exc_type):
    def raise_it(request):
        raise exc_type("simulated", request=request)

    return raise_it


class Remote:
    """A scripted Instantly: answers each request with the next step (the last one repeats)."""

    def __init__(self, *steps, clock=None, latency=0.0):
        self.steps = list(steps)
        self.requests = []
        self.clock = clock
        self.latency = latency

    def __call__(self, request):
        self.requests.append(request)
        if self.clock is not None:
            # Like a real transport, a slow answer is cut off by the request's read timeout.
            read_timeout = request.extensions["timeout"]["read"]
            self.clock.now += min(self.latency, read_timeout)
            if self.latency > read_timeout:
                raise httpx.ReadTimeout("simulated", request=request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step(request) if callable(step) else step

    def json_bodies(self):
        return [json.loads(r.content) for r in self.requests]


class Clock:
    """A fake monotonic clock whose sleep advances it, recording every sleep."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_client(clock):
    def make(remote, **kwargs):
        options = {
            "api_key": KEY,
            "base_url": BASE,
            "limiter_bucket": "test",
            "transport": httpx.MockTransport(remote),
            "sleep": clock.sleep,
            "clock": clock,
            "jitter": lambda: 1.0,
            **kwargs,
        }
        return InstantlyClient(**options)

    return make


# --- Requests ---------------------------------------------------------------------------


def test_verify_gets_one_order_with_bearer_key(make_client):
    remote = Remote(reply(name="orders_page_2"))

    make_client(remote).verify()

    (request,) = remote.requests
    assert request.method == "GET"
    assert request.url.path == "/api/v2/dfy-email-account-orders"
    assert request.url.params["limit"] == "1"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("base_url", [BASE, BASE + "/"])
def test_paths_join_under_the_api_base(make_client, base_url):
    remote = Remote(reply(name="domains_check"))

    make_client(remote, base_url=base_url).check_domains(["acme-mail.com"])

    assert (
        str(remote.requests[0].url)
        == "https://api.instantly.test/api/v2/dfy-email-account-orders/domains/check"
    )


def test_key_is_never_sent_over_plain_http_to_a_remote_host():
    # Twice: the checked address is remembered per process, a refusal never is.
    for _ in range(2):
        with pytest.raises(ValueError, match="use https"):
            InstantlyClient(
                api_key=KEY,
                base_url="http://api.instantly.ai/api/v2",
                limiter_bucket="b",
            )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/sandbox/api/v2",
        "http://localhost:8000/sandbox/api/v2",
        "http://web:8000/sandbox/api/v2",
    ],
)
def test_plain_http_is_allowed_for_the_local_sandbox(url):
    with InstantlyClient(api_key=KEY, base_url=url, limiter_bucket="b") as client:
        assert client.base_url == url + "/"


def test_simulate_adds_simulation_true_and_place_adds_false(make_client):
    remote = Remote(reply(name="order_simulation_valid"), reply(name="order_placed"))
    client = make_client(remote)

    client.simulate_order(PAYLOAD)
    client.place_order(PAYLOAD)

    simulated, placed = remote.json_bodies()
    assert simulated == {**PAYLOAD, "simulation": True}
    assert placed == {**PAYLOAD, "simulation": False}


def test_payload_carrying_its_own_simulation_flag_is_refused(make_client):
    remote = Remote(reply(name="order_placed"))
    client = make_client(remote)

    with pytest.raises(ValueError, match="without 'simulation'"):
        client.place_order({**PAYLOAD, "simulation": True})
    with pytest.raises(ValueError, match="without 'simulation'"):
        client.simulate_order({**PAYLOAD, "simulation": False})
    assert remote.requests == []


def _simulation_false_sites(tree):
    """(enclosing function or "<module>") of every {"simulation": False} dict literal and every
    simulation=False keyword argument."""
    parents = {
        child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)
    }

    def owner(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node.name
        return "<module>"

    for node in ast.walk(tree):
        pairs = []
        if isinstance(node, ast.Dict):
            pairs = [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant)
            ]
        elif isinstance(node, ast.keyword) and node.arg:
            pairs = [(node.arg, node.value)]
        for name, value in pairs:
            if (
                name == "simulation"
                and isinstance(value, ast.Constant)
                and value.value is False
            ):
                yield owner(node)


def test_only_place_order_can_send_simulation_false():
    """The literal that buys things exists once, in InstantlyClient.place_order (sandbox and
    tests aside)."""
    hits = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {".venv", "sandbox", "tests", "var", "node_modules"}:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        hits += [(str(relative), name) for name in _simulation_false_sites(tree)]

    assert hits == [("orders/instantly/client.py", "place_order")]


# --- Errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "message"),
    [
        (401, InstantlyAuthError, "401 Unauthorized: Invalid API key"),
        (
            402,
            InstantlyPlanError,
            "402 Payment Required: Workspace does not have an active paid plan",
        ),
        (403, InstantlyScopeError, "403 Forbidden: Forbidden"),
        (404, InstantlyNotFound, "404 Not Found: Resource not found"),
    ],
)
def test_permanent_errors_map_to_their_class_without_retry(
    make_client, status, error_class, message
):
    remote = Remote(reply(status, name=f"error_{status}"))

    with pytest.raises(error_class, match=re.escape(message)) as caught:
        make_client(remote).verify()

    assert str(caught.value) == message
    assert caught.value.status_code == status
    assert len(remote.requests) == 1


def test_restricted_domain_is_a_validation_error_with_code_and_keyword(make_client):
    remote = Remote(reply(400, name="domains_similar_restricted"))

    with pytest.raises(
        InstantlyValidationError, match='restricted keyword: "google"'
    ) as caught:
        make_client(remote).similar_domains("google-mail-team.com")

    assert caught.value.code == "restricted_domain"
    assert caught.value.keyword == "google"
    assert "restricted keyword" in caught.value.message
    assert len(remote.requests) == 1


def test_error_without_envelope_uses_the_status_line(make_client):
    remote = Remote(httpx.Response(418, text="<html>teapot</html>"))

    with pytest.raises(InstantlyError, match="^418 I'm a teapot$") as caught:
        make_client(remote).verify()

    assert str(caught.value) == "418 I'm a teapot"


def test_429_is_rate_limited_and_exhausts_read_retries(make_client, clock):
    remote = Remote(reply(429, name="error_429"))

    with pytest.raises(RateLimited, match="^429 Too Many Requests") as caught:
        make_client(remote, max_read_retries=2).verify()

    assert caught.value.retry_after is None
    assert isinstance(caught.value, InstantlyTransientError)
    assert caught.value.request_sent is False, "a 429 was refused before any processing"
    assert len(remote.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_5xx_reads_retry_with_exponential_backoff_then_give_up(make_client, clock):
    remote = Remote(httpx.Response(503, text="upstream busy"))

    with pytest.raises(InstantlyTransientError, match="503"):
        make_client(remote).check_domains(["acme-mail.com"])

    assert len(remote.requests) == 5
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_full_jitter_capped(make_client, clock):
    remote = Remote(httpx.Response(500))

    with pytest.raises(InstantlyTransientError, match="^500 Internal Server Error$"):
        make_client(
            remote,
            jitter=lambda: 0.5,
            max_read_retries=6,
            backoff_cap=3.0,
            deadline_seconds=100,
        ).verify()

    assert clock.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5, 1.5]


@pytest.mark.parametrize(
    "exc_type",
    [
        httpx.ReadTimeout,
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.RemoteProtocolError,
    ],
)
def test_reads_recover_from_timeouts_and_connection_errors(make_client, exc_type):
    remote = Remote(fail(exc_type), reply(name="domains_similar"))

    domains = make_client(remote).similar_domains("acme.com")

    assert domains == ["acmemail.com", "getacme.com", "acme-hq.org", "tryacme.com"]
    assert len(remote.requests) == 2


def test_timeout_on_every_attempt_is_transient(make_client):
    remote = Remote(fail(httpx.ReadTimeout))

    with pytest.raises(InstantlyTransientError, match="timed out"):
        make_client(remote, max_read_retries=1).verify()

    assert len(remote.requests) == 2


def test_connection_refused_is_transient_and_not_sent(make_client):
    remote = Remote(fail(httpx.ConnectError))

    with pytest.raises(
        InstantlyTransientError, match=r"^could not connect \(ConnectError\)$"
    ) as caught:
        make_client(remote, max_read_retries=0).verify()

    assert caught.value.request_sent is False


def test_unreadable_body_on_a_read_is_a_protocol_error_not_retried(make_client):
    remote = Remote(httpx.Response(200, text="<html>maintenance</html>"))

    with pytest.raises(InstantlyProtocolError, match="not JSON"):
        make_client(remote).pre_warmed_domains()

    assert len(remote.requests) == 1


def test_wrong_shape_is_a_protocol_error(make_client):
    remote = Remote(
        httpx.Response(200, json={"results": [{"domain": "a.com", "available": "yes"}]})
    )

    with pytest.raises(InstantlyProtocolError, match="available"):
        make_client(remote).check_domains(["a.com"])


def test_retry_after_seconds_is_honoured(make_client, clock):
    remote = Remote(
        reply(429, name="error_429", headers={"Retry-After": "7"}),
        reply(name="orders_page_2"),
    )

    make_client(remote).verify()

    assert clock.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(make_client, clock):
    now = datetime(2026, 9, 1, 12, 0, 0, tzinfo=UTC)
    retry_at = format_datetime(now + timedelta(seconds=12), usegmt=True)
    remote = Remote(
        reply(503, text="busy", headers={"Retry-After": retry_at}),
        reply(name="orders_page_2"),
    )
    remote.steps[0] = reply(429, name="error_429", headers={"Retry-After": retry_at})

    with time_machine.travel(now, tick=False):
        make_client(remote).verify()

    assert clock.sleeps == [12.0]


def test_retry_after_beyond_the_deadline_fails_fast_with_the_wait(make_client, clock):
    remote = Remote(reply(429, name="error_429", headers={"Retry-After": "120"}))

    with pytest.raises(
        DeadlineExceeded, match=r"would wait 120\.0 s for a retry after 429"
    ) as caught:
        make_client(remote, deadline_seconds=30).verify()

    assert caught.value.retry_after == 120
    assert isinstance(caught.value.__cause__, RateLimited)
    assert clock.sleeps == []
    assert len(remote.requests) == 1


def test_spent_retries_beat_the_deadline(make_client, clock):
    remote = Remote(reply(429, name="error_429", headers={"Retry-After": "120"}))

    with pytest.raises(RateLimited) as caught:
        make_client(remote, deadline_seconds=30, max_read_retries=0).verify()

    assert not isinstance(caught.value, DeadlineExceeded)
    assert len(remote.requests) == 1


def test_a_zero_backoff_is_neither_announced_nor_slept(make_client, clock):
    waits = []
    remote = Remote(httpx.Response(500), reply(name="orders_page_2"))

    make_client(
        remote,
        jitter=lambda: 0.0,
        on_wait=lambda seconds, reason: waits.append(seconds),
    ).verify()

    assert len(remote.requests) == 2
    assert waits == []
    assert clock.sleeps == []


# --- place_order and cancel_accounts are never retried once sent ------------------------------


@pytest.mark.parametrize(
    "step",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(
            503,
            json={"statusCode": 503, "error": "Service Unavailable", "message": "busy"},
        ),
        httpx.Response(302, headers={"Location": "https://elsewhere.test/"}),
        fail(httpx.ReadTimeout),
        fail(httpx.WriteTimeout),
        fail(httpx.RemoteProtocolError),
        fail(httpx.ReadError),
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(200, text=""),
        httpx.Response(200, json={"order_is_valid": True}),
        httpx.Response(200, json={"order_placed": "yes", "order_is_valid": True}),
        httpx.Response(200, json=[1, 2]),
    ],
    ids=[
        "500",
        "502-html",
        "503-envelope",
        "redirect",
        "read-timeout",
        "write-timeout",
        "reset",
        "read-error",
        "not-json",
        "empty",
        "missing-order_placed",
        "wrong-type",
        "not-an-object",
    ],
)
def test_place_order_with_unknown_outcome_is_sent_exactly_once(
    make_client, clock, step
):
    remote = Remote(step)

    with pytest.raises(OutcomeUnknown, match="^order outcome unknown: ") as caught:
        make_client(remote).place_order(PAYLOAD)

    assert len(remote.requests) == 1
    assert clock.sleeps == []
    assert not isinstance(caught.value, InstantlyTransientError)


def test_place_order_keeps_the_unknown_body_for_audit(make_client):
    remote = Remote(httpx.Response(502, text="<html>bad gateway</html>"))

    with pytest.raises(
        OutcomeUnknown, match="^order outcome unknown: HTTP 502$"
    ) as caught:
        make_client(remote).place_order(PAYLOAD)

    assert caught.value.status_code == 502
    assert caught.value.raw_body == "<html>bad gateway</html>"


def test_place_order_answered_as_a_simulation_is_not_trusted(make_client):
    remote = Remote(reply(name="order_simulation_valid"))

    with pytest.raises(OutcomeUnknown, match="simulation"):
        make_client(remote).place_order(PAYLOAD)


@pytest.mark.parametrize(
    "exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]
)
def test_place_order_that_never_connected_is_transient_and_safe(make_client, exc_type):
    remote = Remote(fail(exc_type))

    with pytest.raises(
        InstantlyTransientError, match=rf"^could not connect \({exc_type.__name__}\)$"
    ) as caught:
        make_client(remote).place_order(PAYLOAD)

    assert caught.value.request_sent is False
    assert not isinstance(caught.value, OutcomeUnknown)
    assert len(remote.requests) == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, InstantlyValidationError),
        (401, InstantlyAuthError),
        (402, InstantlyPlanError),
    ],
)
def test_place_order_refused_by_4xx_is_definitive_and_not_retried(
    make_client, status, error_class
):
    name = "domains_similar_restricted" if status == 400 else f"error_{status}"
    remote = Remote(reply(status, name=name))

    with pytest.raises(error_class, match=rf"^{status} "):
        make_client(remote).place_order(PAYLOAD)

    assert len(remote.requests) == 1


def test_place_order_answered_429_is_an_unknown_outcome_not_a_free_retry(make_client):
    """Instantly does not promise that a 429 was never processed: reconcile, never resend."""
    remote = Remote(reply(429, name="error_429", headers={"Retry-After": "1"}))

    with pytest.raises(
        OutcomeUnknown, match=r"HTTP 429 \(rate limited\) to the real order"
    ) as caught:
        make_client(remote).place_order(PAYLOAD)

    assert not isinstance(caught.value, InstantlyTransientError)
    assert caught.value.status_code == 429
    assert len(remote.requests) == 1


def test_place_order_parses_a_placed_order(make_client):
    remote = Remote(reply(name="order_placed"))

    result = make_client(remote).place_order(PAYLOAD)

    assert result.order_placed is True
    assert result.simulation is False
    assert result.total_price == Decimal("25")
    assert result.raw_body == body("order_placed")


def test_place_order_refusal_is_a_result_not_an_error(make_client):
    remote = Remote(reply(name="order_payment_failed"))

    result = make_client(remote).place_order(PAYLOAD)

    assert result.order_placed is False
    assert result.order_error == "payment_failed"
    assert result.payment_failure_reason == "card_expired"
    assert result.checkout_required is False


def test_cancel_accounts_is_not_retried_once_sent(make_client):
    remote = Remote(httpx.Response(503))

    with pytest.raises(
        OutcomeUnknown, match="^cancellation outcome unknown: HTTP 503$"
    ):
        make_client(remote).cancel_accounts(["ann@acme-air.com"])

    assert len(remote.requests) == 1


def test_cancel_accounts_returns_the_cancelled_accounts(make_client):
    remote = Remote(reply(name="accounts_cancelled"))

    (account,) = make_client(remote).cancel_accounts(["ann@acme-air.com"])

    assert remote.json_bodies() == [{"accounts": ["ann@acme-air.com"]}]
    assert account.email == "ann@acme-air.com"
    assert account.is_cancelled
    assert account.timestamp_cancelled == datetime(2026, 8, 20, 9, 0, tzinfo=UTC)


def test_cancel_accounts_needs_at_least_one_address(make_client):
    with pytest.raises(ValueError, match="at least one"):
        make_client(Remote(reply(name="accounts_cancelled"))).cancel_accounts([])


# --- Simulation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"simulation": False},
        {"order_placed": True},
        {"simulation": None},
        {"simulation": False, "order_placed": True},
    ],
)
def test_simulation_not_echoed_is_refused(make_client, changes):
    data = {**json.loads(body("order_simulation_valid")), **changes}
    remote = Remote(httpx.Response(200, json=data))

    with pytest.raises(
        SimulationNotEchoed, match="^simulation answer echoed simulation="
    ) as caught:
        make_client(remote).simulate_order(PAYLOAD)

    assert caught.value.order_placed is data["order_placed"]
    assert caught.value.raw_body


def test_simulation_is_retried_like_a_read(make_client):
    remote = Remote(
        httpx.Response(503),
        fail(httpx.ReadTimeout),
        reply(name="order_simulation_valid"),
    )

    result = make_client(remote).simulate_order(PAYLOAD)

    assert result.order_is_valid is True
    assert len(remote.requests) == 3


def test_refused_simulation_exposes_every_validation_list(make_client):
    remote = Remote(reply(name="order_refused"))

    result = make_client(remote).simulate_order(PAYLOAD)

    assert result.order_is_valid is False
    assert result.order_error == "invalid_accounts"
    assert result.unavailable_domains == ("taken-domain.com",)
    assert result.blacklist_domains == ("google-mail-team.com",)
    assert result.blacklist_keywords == ("google",)
    assert result.invalid_domains == ("acme.net",)
    assert result.invalid_forwarding_domains == ("acme-fwd.com",)
    assert result.missing_domain_orders == ("never-ordered.com",)
    assert result.provider_mismatch_domains == ("mixed.com",)
    assert result.unsupported_provider_domains == ("outlook-owned.com",)
    assert result.unavailable_email_providers == (2,)
    assert result.domains_without_accounts == ("empty.com",)
    assert result.invalid_accounts == (
        InvalidAccount(
            domain="acme-mail.com",
            first_name="",
            last_name="Roe",
            email="jane@acme-mail.com",
            reason="First name is required",
        ),
    )


# --- Money and schema growth ----------------------------------------------------------------


def _walk(value):
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from _walk(getattr(value, name))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(k)
            yield from _walk(v)
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


@pytest.mark.parametrize(
    "name",
    [
        "order_simulation_valid",
        "order_simulation_mixed",
        "order_simulation_future_fields",
        "order_refused",
    ],
)
def test_order_results_hold_no_floats(make_client, name):
    result = make_client(Remote(reply(name=name))).simulate_order(PAYLOAD)

    assert not [v for v in _walk(result) if isinstance(v, float)]


def test_money_is_decimal_exactly_as_sent(make_client):
    result = make_client(Remote(reply(name="order_simulation_mixed"))).simulate_order(
        PAYLOAD
    )

    assert result.price_per_domain_per_year == Decimal("12.5")
    assert str(result.total_accounts_price_per_month) == "38.50"
    assert result.price_per_account_per_month is None
    assert result.price_per_account_per_month_by_account_type == {
        "1": Decimal("5"),
        "2": Decimal("4.5"),
    }
    assert result.price_per_domain_per_month == Decimal("20")
    assert result.total_discount == Decimal("12.5")
    assert result.total_price == Decimal("63.5")
    assert sum(item.total_price for item in result.order_items) == result.total_price
    assert result.free_domains == ("acme-air.com",)
    assert result.number_of_accounts_ordered == 4
    outlook = result.order_items[2]
    assert (outlook.email_provider, outlook.domain_monthly_price) == (3, Decimal("20"))


def test_unknown_fields_are_ignored(make_client):
    result = make_client(
        Remote(reply(name="order_simulation_future_fields"))
    ).simulate_order(PAYLOAD)

    assert result.total_price == Decimal("20")
    assert result.order_items[0].accounts[0].email_address_prefix == "jane"
    assert result.blacklist_keywords == ()
    assert result.checkout_url is None


def test_null_reads_like_an_absent_field(make_client):
    data = {
        **json.loads(body("order_simulation_valid")),
        "order_error": None,
        "invalid_domains": None,
        "total_discount": None,
        "invalid_accounts": [{"domain": None, "email": "x@acme.com", "reason": "r"}],
    }

    result = make_client(Remote(httpx.Response(200, json=data))).simulate_order(PAYLOAD)

    assert result.order_error is None
    assert result.invalid_domains == ()
    assert result.total_discount is None
    assert result.invalid_accounts == (
        InvalidAccount(
            domain="", first_name="", last_name="", email="x@acme.com", reason="r"
        ),
    )


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"order_placed": None}, "missing required field `order_placed`"),
        ({"order_items": [{"domain": "a.com"}]}, "at `$.order_items[0]`"),
        ({"free_domains": ["a.com", 7]}, "at `$.free_domains[1]`"),
        ({"price_per_account_per_month": "5"}, "at `$.price_per_account_per_month`"),
    ],
)
def test_a_malformed_answer_names_the_field(make_client, change, path):
    data = {**json.loads(body("order_simulation_valid")), **change}

    with pytest.raises(InstantlyProtocolError, match=re.escape(path)) as caught:
        make_client(Remote(httpx.Response(200, json=data))).simulate_order(PAYLOAD)

    assert caught.value.message.startswith("order: ")


def test_an_answer_cannot_supply_its_own_raw_body(make_client):
    text = json.dumps({**json.loads(body("order_placed")), "raw_body": 7})

    result = make_client(Remote(httpx.Response(200, text=text))).place_order(PAYLOAD)

    assert result.raw_body == text


def test_raw_body_is_kept_verbatim_but_not_in_repr(make_client):
    result = make_client(Remote(reply(name="order_simulation_valid"))).simulate_order(
        PAYLOAD
    )

    assert result.raw_body == body("order_simulation_valid")
    assert "raw_body" not in repr(result)
    assert "raw_body" not in dict(result.__rich_repr__())


# --- Other endpoints --------------------------------------------------------------------------


def test_check_domains_parses_restrictions(make_client):
    remote = Remote(reply(name="domains_check"))

    results = make_client(remote).check_domains(
        ["acme-mail.com", "taken-domain.com", "equifax-outreach.com"]
    )

    assert results == [
        DomainAvailability("acme-mail.com", True),
        DomainAvailability("taken-domain.com", False),
        DomainAvailability("equifax-outreach.com", False, "restricted", "equifax"),
    ]


def test_check_domains_refuses_more_than_50_before_calling(make_client):
    remote = Remote(reply(name="domains_check"))
    client = make_client(remote)

    with pytest.raises(ValueError, match="at most 50"):
        client.check_domains([f"d{i}.com" for i in range(51)])
    assert client.check_domains([]) == []
    assert remote.requests == []


def test_similar_domains_sends_requested_tlds(make_client):
    remote = Remote(reply(name="domains_similar"))

    make_client(remote).similar_domains("acme.com", tlds=["org"])

    assert remote.json_bodies() == [{"domain": "acme.com", "tlds": ["org"]}]


def test_pre_warmed_domains_carry_their_provider(make_client):
    remote = Remote(reply(name="pre_warmed"))

    domains = make_client(remote).pre_warmed_domains(
        extensions=["com", "co"], search="acme"
    )

    assert remote.json_bodies() == [{"extensions": ["com", "co"], "search": "acme"}]
    assert domains == [
        PreWarmedDomain("acme-ready.com", 1),
        PreWarmedDomain("acme-ready.co", 1),
        PreWarmedDomain("acme-air-ready.org", 2),
    ]


def test_pre_warmed_domains_fall_back_to_the_plain_list(make_client):
    remote = Remote(reply(name="pre_warmed_legacy"))

    domains = make_client(remote).pre_warmed_domains()

    assert remote.json_bodies() == [{}]
    assert domains == [
        PreWarmedDomain("acme-ready.com", None),
        PreWarmedDomain("acme-ready.org", None),
    ]


def test_empty_pre_warmed_stock_is_an_empty_list(make_client):
    assert (
        make_client(Remote(reply(name="pre_warmed_empty"))).pre_warmed_domains() == []
    )


# --- Pagination ------------------------------------------------------------------------------


def test_orders_follow_cursor_until_it_is_absent(make_client):
    remote = Remote(reply(name="orders_page_1"), reply(name="orders_page_2"))
    pages = []
    client = make_client(remote)

    orders = list(
        client.iter_orders(on_page=lambda number, count: pages.append((number, count)))
    )

    assert [o.domain for o in orders] == [
        "acme-mail.com",
        "acme-air.com",
        "acme-outlook.com",
    ]
    first, second = remote.requests
    assert dict(first.url.params) == {"limit": "100"}
    assert dict(second.url.params) == {
        "limit": "100",
        "starting_after": "019ffad2-9be6-7dfb-9fd5-eb4f69b27f33",
    }
    assert pages == [(1, 2), (2, 1)]
    assert client.page_count == 2
    assert client.request_count == 2
    assert orders[1].timestamp_cancelled == datetime(2026, 8, 20, 9, 0, tzinfo=UTC)
    assert orders[0].timestamp_created == datetime(
        2026, 8, 13, 11, 11, 58, 212000, tzinfo=UTC
    )
    assert orders[0].timestamp_cancelled is None


def test_accounts_stop_on_empty_cursor_and_hide_passwords(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    remote = Remote(reply(name="accounts_page_1"), reply(name="accounts_page_2"))

    accounts = list(make_client(remote).iter_accounts(page_size=2, with_passwords=True))

    assert len(remote.requests) == 2
    assert remote.requests[0].url.params["with_passwords"] == "true"
    assert (
        remote.requests[1].url.params["starting_after"]
        == "123e4567-e89b-12d3-a456-426614174001:2026-08-13T11:11:58.300Z"
    )
    assert [a.is_ready for a in accounts] == [True, False, True]
    assert [a.is_cancelled for a in accounts] == [False, False, True]
    # The fixtures' password values (not a field name) are in no repr, str or log line.
    for secret in ("Xk2#pQ9!vL", "Rt5$wE8@zQ"):
        assert secret not in repr(accounts)
        assert secret not in str(accounts)
        assert secret not in repr([a.__rich_repr__() for a in accounts])
        assert secret not in caplog.text


def test_pagination_stops_on_an_empty_page(make_client):
    remote = Remote(
        httpx.Response(200, json={"items": [], "next_starting_after": "abc"})
    )

    assert list(make_client(remote).iter_orders()) == []
    assert len(remote.requests) == 1


def test_pagination_refuses_a_repeated_cursor(make_client):
    remote = Remote(reply(name="orders_page_1"))

    with pytest.raises(InstantlyProtocolError, match="repeated"):
        list(make_client(remote).iter_orders())

    assert len(remote.requests) == 2


@pytest.mark.parametrize("page_size", [0, 101])
def test_page_size_is_bounded_by_the_api(make_client, page_size):
    with pytest.raises(ValueError, match="page_size"):
        list(
            make_client(Remote(reply(name="orders_page_2"))).iter_orders(
                page_size=page_size
            )
        )


def test_pagination_is_lazy(make_client):
    remote = Remote(reply(name="orders_page_1"), reply(name="orders_page_2"))

    first = next(make_client(remote).iter_orders())

    assert first.domain == "acme-mail.com"
    assert len(remote.requests) == 1


# --- Deadline, limiter, waits ----------------------------------------------------------------


def test_deadline_bounds_retries_and_latency(make_client, clock):
    start = clock.now
    remote = Remote(httpx.Response(503), clock=clock, latency=4.0)

    with pytest.raises(DeadlineExceeded, match="deadline exceeded"):
        make_client(remote, deadline_seconds=10, max_read_retries=10).verify()

    assert clock.now - start <= 10
    assert len(remote.requests) == 3
    assert remote.requests[2].extensions["timeout"]["read"] == pytest.approx(0.5)


def test_per_request_timeouts_shrink_to_the_deadline(make_client, clock):
    seen = []

    def handler(request):
        seen.append(request.extensions["timeout"])
        clock.now += 25
        return reply(name="orders_page_2")

    make_client(Remote(handler), deadline_seconds=30).verify()
    make_client(
        Remote(handler), deadline_seconds=30, timeout=httpx.Timeout(3.0)
    ).verify()

    assert seen[0] == {"connect": 5.0, "read": 15.0, "write": 10.0, "pool": 5.0}
    assert seen[1] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}


def test_limiter_wait_is_announced_before_sleeping(make_client, clock):
    events = []
    limiter = MemoryRateLimiter(clock=clock)
    remote = Remote(
        lambda request: (
            events.append(("request", clock.now)) or reply(name="domains_check")
        )
    )
    client = make_client(
        remote,
        limiter=limiter,
        deadline_seconds=90,
        on_wait=lambda seconds, reason: events.append(("wait", seconds, reason)),
    )

    for _ in range(31):
        client.check_domains(["acme-mail.com"])

    assert len(remote.requests) == 31
    # A 61 s window: one second of margin for the call's arrival (orders/ratelimit.py).
    assert events[30] == (
        "wait",
        61.0,
        "Instantly's domain-check limit (30 per minute)",
    )
    assert events[31] == ("request", 1061.0)
    assert clock.sleeps == [61.0]


def test_limiter_wait_beyond_the_deadline_sends_nothing(make_client, clock):
    limiter = MemoryRateLimiter(clock=clock)
    for _ in range(30):
        limiter.try_acquire("test", "check")
    remote = Remote(reply(name="domains_check"))

    with pytest.raises(DeadlineExceeded, match="domain-check limit") as caught:
        make_client(remote, limiter=limiter, deadline_seconds=30).check_domains(
            ["acme-mail.com"]
        )

    assert caught.value.request_sent is False
    # The check window is 61 s: one second of margin for a call's arrival at Instantly
    # (orders/ratelimit.py, ARRIVAL_MARGIN_SECONDS).
    assert caught.value.retry_after == 61.0
    assert remote.requests == []
    assert clock.sleeps == []


def test_every_attempt_takes_a_limiter_slot(make_client, clock):
    limiter = MemoryRateLimiter(clock=clock)
    remote = Remote(httpx.Response(503), reply(name="domains_check"))

    make_client(remote, limiter=limiter).check_domains(["acme-mail.com"])

    assert len(limiter._logs["test"]["check"]) == 2


def test_backoff_waits_are_announced_too(make_client, clock):
    waits = []
    remote = Remote(httpx.Response(500), reply(name="orders_page_2"))

    make_client(
        remote, on_wait=lambda seconds, reason: waits.append((seconds, reason))
    ).verify()

    assert waits == [(0.5, "a retry after 500 Internal Server Error")]


def test_request_count_counts_every_http_attempt(make_client):
    remote = Remote(
        httpx.Response(500), fail(httpx.ConnectError), reply(name="orders_page_2")
    )
    client = make_client(remote)

    client.verify()

    assert client.request_count == 3


def test_auth_failures_reach_the_callback_from_any_method(make_client):
    seen = []
    remote = Remote(
        reply(401, name="error_401"),
        reply(403, name="error_403"),
        reply(402, name="error_402"),
    )
    client = make_client(remote, on_auth_failure=seen.append)

    for call in (
        lambda: list(client.iter_accounts()),
        lambda: client.place_order(PAYLOAD),
        client.verify,
    ):
        with pytest.raises(InstantlyError, match=r"^40[123] "):
            call()

    assert [type(e) for e in seen] == [
        InstantlyAuthError,
        InstantlyScopeError,
        InstantlyPlanError,
    ]


def test_failing_auth_callback_does_not_hide_the_error(make_client):
    def broken(error):
        raise RuntimeError("db down")

    with pytest.raises(InstantlyAuthError, match="^401 Unauthorized: Invalid API key$"):
        make_client(
            Remote(reply(401, name="error_401")), on_auth_failure=broken
        ).verify()


# --- Secrets ------------------------------------------------------------------------------------


def test_key_never_reaches_logs_errors_or_repr(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    echoing = httpx.Response(
        401,
        json={
            "statusCode": 401,
            "error": "Unauthorized",
            "message": f"Invalid key {KEY}",
        },
    )
    remote = Remote(httpx.Response(500), fail(httpx.ReadTimeout), echoing)
    client = make_client(remote)

    with pytest.raises(
        InstantlyAuthError, match="^401 Unauthorized: Invalid key "
    ) as caught:
        client.verify()
    with pytest.raises(
        OutcomeUnknown, match=r"timed out after sending \(ReadTimeout\)"
    ) as unknown:
        make_client(Remote(fail(httpx.ReadTimeout))).place_order(PAYLOAD)

    for text in (
        caplog.text,
        str(caught.value),
        repr(caught.value),
        caught.value.raw_body,
        repr(unknown.value),
        repr(client),
    ):
        assert KEY not in text
        assert KEY[:-4] not in text
    assert "····Jk" in repr(client) or f"····{KEY[-4:]}" in repr(client)
    assert "GET /dfy-email-account-orders -> 500" in caplog.text
    assert "Authorization" not in caplog.text


def test_one_info_line_per_request(make_client, caplog):
    caplog.set_level(logging.INFO, logger="orders.instantly")

    make_client(
        Remote(reply(name="orders_page_1"), reply(name="orders_page_2"))
    ).iter_orders().__next__()

    lines = [r for r in caplog.records if r.name == "orders.instantly"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert "starting_after" not in caplog.text
