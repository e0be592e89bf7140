"""InstantlyClient's guards and parsers at their edges: a wrong argument is refused before
anything is sent, and an odd answer (a redirect, an empty or non-JSON body, an HTTP-date
Retry-After, a naive timestamp) is read the one safe way. MockTransport: no network, no DB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from orders import instantly
from orders.instantly import InstantlyClient
from orders.instantly.transport import parse_retry_after

KEY = "edge-test-key-0123456789"
BASE = "https://api.instantly.test/api/v2"


class Remote:
    """Answers every request with one canned response and records what was sent."""

    def __init__(self, status: int = 200, body: str = "{}", **headers: str) -> None:
        self.status, self.body, self.headers = status, body, headers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, text=self.body, headers=self.headers)


def client_for(remote: Remote) -> InstantlyClient:
    return InstantlyClient(
        api_key=KEY,
        base_url=BASE,
        limiter_bucket="edges",
        transport=httpx.MockTransport(remote),
        sleep=lambda seconds: None,
        jitter=lambda: 0.0,
        max_read_retries=0,
    )


def test_a_client_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="API key is required"):
        InstantlyClient(api_key="", base_url=BASE, limiter_bucket="edges")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.check_domains("acme.com"), TypeError, "not one string"),
        (lambda c: c.similar_domains("acme", tlds="com"), ValueError, "tlds"),
        (lambda c: c.similar_domains("acme", tlds=("net",)), ValueError, "tlds"),
        (lambda c: c.similar_domains("acme", tlds=()), ValueError, "tlds"),
        (lambda c: c.pre_warmed_domains(extensions="com"), ValueError, "extensions"),
        (lambda c: c.pre_warmed_domains(extensions=["io"]), ValueError, "extensions"),
        (lambda c: c.cancel_accounts("a@acme.com"), TypeError, "not one string"),
        (lambda c: c.remove_forwarding("not a domain"), ValueError, "example.com"),
        (
            lambda c: c.set_forwarding("acme.com", forwarding_domain="nowhere"),
            ValueError,
            "mycompany.com",
        ),
        (
            lambda c: c.set_forwarding("acme.com", forwarding_domain="ACME.com "),
            ValueError,
            "itself",
        ),
        (
            lambda c: c.set_forwarding(
                "acme.com", forwarding_domain="acme.io", mode="frame"
            ),
            ValueError,
            "redirect' or 'stealth",
        ),
    ],
)
def test_wrong_arguments_are_refused_before_anything_is_sent(
    call, error, message
) -> None:
    remote = Remote()
    with client_for(remote) as client, pytest.raises(error, match=message):
        call(client)
    assert remote.requests == []


def test_a_redirect_is_a_protocol_error_not_followed() -> None:
    remote = Remote(302, "", Location="https://elsewhere.test/")
    with (
        client_for(remote) as client,
        pytest.raises(instantly.InstantlyProtocolError, match="unexpected redirect"),
    ):
        client.verify()
    assert [r.url.host for r in remote.requests] == ["api.instantly.test"]


def test_removing_forwarding_accepts_an_empty_answer() -> None:
    remote = Remote(200, "")
    with client_for(remote) as client:
        result = client.remove_forwarding(" Acme.com ")
    assert result.domain == "acme.com"
    assert result.forwarding_domain is None
    assert [r.method for r in remote.requests] == ["DELETE"]


def test_a_forwarding_answer_that_is_not_json_is_a_protocol_error() -> None:
    remote = Remote(200, "<html>maintenance</html>")
    with (
        client_for(remote) as client,
        pytest.raises(instantly.InstantlyProtocolError, match="not JSON"),
    ):
        client.set_forwarding("acme.com", forwarding_domain="acme.io")
    assert len(remote.requests) == 1  # an answer, not a failure to retry


def test_retry_after_as_an_http_date_or_nonsense() -> None:
    future = datetime(2099, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(future, usegmt=True)) > 0
    # "-0000" is RFC 5322's "zone unknown": read as UTC rather than rejected.
    assert parse_retry_after("Thu, 01 Jan 2099 00:00:00 -0000") > 0
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(" 7 ") == 7.0


def order_answer(**fields: object) -> str:
    return json.dumps({"order_placed": False, "order_is_valid": True, **fields})


def test_numbers_in_answers_are_read_strictly() -> None:
    # A whole number may come as 3 or 3.0; never as a fraction, a boolean or a string.
    three = instantly.parse_order_result(
        '{"order_placed": false, "order_is_valid": true, "number_of_accounts_ordered": 3.0}'
    )
    assert three.number_of_accounts_ordered == 3
    assert type(three.number_of_accounts_ordered) is int
    with pytest.raises(instantly.InstantlyProtocolError, match="whole number"):
        instantly.parse_order_result(order_answer(number_of_accounts_ordered=3.5))
    for wrong in (True, "3"):
        with pytest.raises(
            instantly.InstantlyProtocolError,
            match=r"expected a number - at `\$\.number_of_accounts_ordered`",
        ):
            instantly.parse_order_result(order_answer(number_of_accounts_ordered=wrong))
    # Money is a JSON number read as Decimal, never a string or a boolean.
    assert instantly.parse_order_result(order_answer(total_price=25)).total_price == (
        Decimal("25")
    )
    for wrong in ("25.00", False):
        with pytest.raises(instantly.InstantlyProtocolError, match="total_price"):
            instantly.parse_order_result(order_answer(total_price=wrong))


def orders_page(**order: object) -> str:
    row = {"workspace_id": "w", "domain": "acme.com", **order}
    return json.dumps({"items": [row]})


def test_times_in_answers_are_read_strictly() -> None:
    naive = orders_page(timestamp_created="2026-08-01T10:00:00", timestamp_cancelled="")
    with client_for(Remote(body=naive)) as client:
        (order,) = client.iter_orders()
    assert order.timestamp_created == datetime(2026, 8, 1, 10, tzinfo=UTC)
    assert order.timestamp_cancelled is None
    for wrong in ("yesterday", 1754042400):
        with (
            client_for(Remote(body=orders_page(timestamp_created=wrong))) as client,
            pytest.raises(
                instantly.InstantlyProtocolError,
                match=r"ISO-8601 time - at `\$\.items\[0\]\.timestamp_created`",
            ),
        ):
            list(client.iter_orders())
