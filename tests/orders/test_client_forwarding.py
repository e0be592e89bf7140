"""Contract tests of the forwarding methods: the portal's client against the sandbox served
by a live server, over real HTTP. Every request the client sends and every answer it reads
is validated against the vendored forwarding schema (tests/fixtures/forwarding-2026-08...)."""

from __future__ import annotations

import json
import time
import urllib.parse

import httpx
import pytest

from orders.instantly import (
    DeadlineExceeded,
    DomainForwarding,
    ForwardingConflict,
    ForwardingNotApplied,
    ForwardingUnsupported,
    InstantlyClient,
    InstantlyNotFound,
    InstantlyScopeError,
    InstantlyValidationError,
    RateLimited,
)
from orders.ratelimit import MemoryRateLimiter
from sandbox.models import DomainOrder, RequestLog, RestrictedKeyword
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_key_create, sandbox_workspace_create
from sandbox.switches import switches_set
from tests.sandbox.forwarding_schema import (
    path_param_validator,
    request_errors,
    response_errors,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

ORDER = {
    "order_type": "dfy",
    "items": [
        {
            "domain": "acme-mail.com",
            "email_provider": 1,
            "forwarding_domain": "acme.com",
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


class Recording(httpx.BaseTransport):
    """Real HTTP, remembering each exchange for the schema checks."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response

    def forwarding(self) -> list[tuple[httpx.Request, httpx.Response]]:
        return [(q, r) for q, r in self.exchanges if q.url.path.endswith("/forwarding")]

    def violations(self) -> list[str]:
        found = []
        for request, response in self.forwarding():
            method = request.method
            domain = urllib.parse.unquote(request.url.path.split("/")[-2])
            if not path_param_validator().is_valid(domain):
                found.append(f"{method} path domain {domain!r}")
            if method == "PUT":
                found += [
                    f"PUT body: {e}"
                    for e in request_errors(json.loads(request.content))
                ]
            elif request.content:
                found.append(f"{method} sent a body")
            found += [
                f"{method} {response.status_code}: {e}"
                for e in response_errors(method, response.status_code, response.json())
            ]
        return found

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def remote(live_server):
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    workspace, key = sandbox_workspace_create(name="Forwarding contract")
    return workspace, key, f"{live_server.url}/sandbox/api/v2"


@pytest.fixture
def connect(remote):
    made: list[tuple[InstantlyClient, Recording]] = []

    def make(key=None, **kwargs):
        transport = Recording()
        client = InstantlyClient(
            api_key=key or remote[1],
            base_url=remote[2],
            limiter_bucket="forwarding-contract",
            transport=transport,
            **{"limiter": None, "sleep": lambda s: None, **kwargs},
        )
        made.append((client, transport))
        return client, transport

    yield make
    for client, transport in made:
        assert transport.violations() == []
        client.close()
        transport.close()


def clear_of_a_minute_boundary() -> None:
    """The sandbox counts in clock-aligned minutes: ten changes that straddle a boundary
    would not fill one window, so start them early in a minute."""
    into = time.time() % 60
    if into > 45:
        time.sleep(61 - into)


def changes_sent() -> int:
    return RequestLog.objects.filter(
        path__endswith="/forwarding", method__in=["PUT", "DELETE"]
    ).count()


def test_read_set_stealth_and_remove_on_a_delivered_domain(remote, connect):
    sandbox, _key, _url = remote
    client, transport = connect()
    assert client.place_order(ORDER).order_placed is True

    ordered = client.get_forwarding("acme-mail.com")
    with pytest.raises(ForwardingConflict, match="still being provisioned"):
        client.set_forwarding("acme-mail.com", forwarding_domain="brand.com")
    switches_set(workspace=sandbox, provisioning_delay_seconds=0)
    redirect = client.set_forwarding("acme-mail.com", forwarding_domain="brand.com")
    stealth = client.set_forwarding(
        "acme-mail.com", forwarding_domain="brand.com", mode="stealth"
    )
    read = client.get_forwarding("acme-mail.com")
    removed = client.remove_forwarding("acme-mail.com")
    removed_again = client.remove_forwarding("acme-mail.com")

    assert ordered == DomainForwarding("acme-mail.com", "acme.com", "redirect")
    assert redirect == DomainForwarding("acme-mail.com", "brand.com", "redirect")
    assert stealth == read == DomainForwarding("acme-mail.com", "brand.com", "stealth")
    assert removed == removed_again == DomainForwarding("acme-mail.com", None, None)
    assert DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == ""
    assert [q.method for q, _ in transport.forwarding()] == [
        "GET",
        "PUT",
        "PUT",
        "PUT",
        "GET",
        "DELETE",
        "DELETE",
    ]


@pytest.mark.parametrize(
    ("switch", "error"),
    [
        ("forwarding_unsupported", ForwardingUnsupported),
        ("forwarding_apply_fails", ForwardingNotApplied),
    ],
)
def test_422_and_502_are_answers_for_a_person_and_never_retried(
    remote, connect, switch, error
):
    sandbox, _key, _url = remote
    client, _transport = connect()
    client.place_order(ORDER)
    switches_set(workspace=sandbox, provisioning_delay_seconds=0, **{switch: True})

    with pytest.raises(
        error, match=r"^(422 Unprocessable Entity|502 Bad Gateway): "
    ) as raised:
        client.set_forwarding("acme-mail.com", forwarding_domain="brand.com")

    assert raised.value.status_code in {422, 502}
    assert changes_sent() == 1
    assert (
        DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == "acme.com"
    )


def test_a_server_error_is_retried_because_the_change_is_idempotent(remote, connect):
    sandbox, _key, _url = remote
    client, _transport = connect()
    client.place_order(ORDER)
    switches_set(workspace=sandbox, provisioning_delay_seconds=0, error_5xx_remaining=1)

    result = client.set_forwarding(
        "acme-mail.com", forwarding_domain="brand.com", mode="stealth"
    )

    assert result.forwarding_mode == "stealth"
    assert changes_sent() == 2


def test_the_local_limiter_keeps_to_10_changes_a_minute(remote, connect):
    sandbox, _key, _url = remote
    client, _transport = connect(limiter=MemoryRateLimiter(), deadline_seconds=5)
    client.place_order(ORDER)
    switches_set(workspace=sandbox, provisioning_delay_seconds=0)

    for n in range(10):
        client.set_forwarding("acme-mail.com", forwarding_domain=f"b{n}.com")
    with pytest.raises(
        DeadlineExceeded, match="forwarding limit \\(10 changes per minute\\)"
    ) as raised:
        client.remove_forwarding("acme-mail.com")
    client.get_forwarding("acme-mail.com")  # reads are not in the forwarding budget

    assert raised.value.request_sent is False
    assert 50 < raised.value.retry_after <= 60
    assert changes_sent() == 10


def test_the_sandbox_429_reaches_the_caller_with_its_wait(remote, connect):
    sandbox, _key, _url = remote
    client, _transport = connect(deadline_seconds=5)
    client.place_order(ORDER)
    switches_set(workspace=sandbox, provisioning_delay_seconds=0)
    clear_of_a_minute_boundary()
    for n in range(10):
        client.set_forwarding("acme-mail.com", forwarding_domain=f"b{n}.com")

    with pytest.raises(
        DeadlineExceeded, match="for a retry after 429 Too Many Requests"
    ) as raised:
        client.set_forwarding("acme-mail.com", forwarding_domain="late.com")

    assert isinstance(raised.value.__cause__, RateLimited)
    assert raised.value.retry_after >= 1
    assert DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == "b9.com"


def test_refusals_map_to_the_client_error_family(remote, connect):
    sandbox, _key, _url = remote
    client, _transport = connect()
    client.place_order(ORDER)
    switches_set(workspace=sandbox, provisioning_delay_seconds=0)
    reader, _ = connect(
        sandbox_key_create(workspace=sandbox, scopes=["dfy_email_account_orders:read"])
    )

    with pytest.raises(InstantlyNotFound, match="^404 Not Found: Domain not found$"):
        client.get_forwarding("nobody-owns.com")
    with pytest.raises(InstantlyValidationError, match="host name"):
        client.set_forwarding("acme-mail.com", forwarding_domain="bad_name!.com")
    with pytest.raises(InstantlyScopeError, match="^403 Forbidden"):
        reader.remove_forwarding("acme-mail.com")


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "message"),
    [
        (
            "set_forwarding",
            ("acme-mail.com",),
            {"forwarding_domain": "ACME-mail.com"},
            "itself",
        ),
        (
            "set_forwarding",
            ("acme-mail.com",),
            {"forwarding_domain": "nodot"},
            "mycompany.com",
        ),
        (
            "set_forwarding",
            ("acme-mail.com",),
            {"forwarding_domain": "a.com", "mode": "frame"},
            "redirect",
        ),
        ("get_forwarding", ("not a domain",), {}, "example.com"),
        ("remove_forwarding", ("",), {}, "example.com"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    connect, method, args, kwargs, message
):
    client, transport = connect()

    with pytest.raises(ValueError, match=message):
        getattr(client, method)(*args, **kwargs)

    assert transport.exchanges == []
