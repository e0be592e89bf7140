"""InstantlyClient's guards and parsers at their edges: a wrong argument is refused before
anything is sent, and an odd answer (a redirect, an empty or non-JSON body, an HTTP-date
Retry-After, a naive timestamp) is read the one safe way. MockTransport: no network, no DB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from orders import instantly
from orders.instantly import InstantlyClient

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
    assert instantly._parse_retry_after(format_datetime(future, usegmt=True)) > 0
    # "-0000" is RFC 5322's "zone unknown": read as UTC rather than rejected.
    assert instantly._parse_retry_after("Thu, 01 Jan 2099 00:00:00 -0000") > 0
    assert instantly._parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0
    assert instantly._parse_retry_after("soon") is None
    assert instantly._parse_retry_after("") is None
    assert instantly._parse_retry_after(" 7 ") == 7.0


def test_numbers_and_times_in_answers_are_read_strictly() -> None:
    assert instantly._to_int(Decimal("3"), "x") == 3
    with pytest.raises(instantly.InstantlyProtocolError, match="whole number"):
        instantly._to_int(Decimal("3.5"), "x")
    with pytest.raises(instantly.InstantlyProtocolError, match="expected a number"):
        instantly._int_value(True, "x")
    with pytest.raises(instantly.InstantlyProtocolError, match="expected a number"):
        instantly._int_value("3", "x")
    assert instantly._timestamp("2026-08-01T10:00:00", "t") == datetime(
        2026, 8, 1, 10, tzinfo=UTC
    )
    with pytest.raises(instantly.InstantlyProtocolError, match="ISO-8601"):
        instantly._timestamp("yesterday", "t")
