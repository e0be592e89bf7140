"""The portal's client against the portal's own sandbox, in-process: the code path is the one
used with live Instantly, only the transport differs. Catches drift between the two."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders import instantly_keys
from orders.instantly import (
    InstantlyAuthError,
    InstantlyClient,
    InstantlyPlanError,
    InstantlyScopeError,
    InstantlyValidationError,
    OutcomeUnknown,
)
from orders.models import KeyStatus
from orders.ratelimit import MemoryRateLimiter
from sandbox.models import PreWarmedDomain, RequestLog, RestrictedKeyword
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_workspace_create
from sandbox.switches import switches_set
from sandbox.testing import in_process_transport

pytestmark = pytest.mark.django_db

BASE_URL = "http://testserver/sandbox/api/v2"


def mailboxes(*prefixes):
    return [
        {"email_address_prefix": p, "first_name": p.title(), "last_name": "Roe"}
        for p in prefixes
    ]


def order(*domains, prefixes=("jane", "john")):
    return {
        "order_type": "dfy",
        "items": [
            {"domain": d, "email_provider": 1, "accounts": mailboxes(*prefixes)}
            for d in domains
        ],
    }


@pytest.fixture(autouse=True)
def _restricted_keywords():
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def connect():
    clients = []

    def make(secret, **kwargs):
        client = InstantlyClient(
            api_key=secret,
            base_url=BASE_URL,
            limiter_bucket="sandbox-test",
            transport=in_process_transport(),
            limiter=MemoryRateLimiter(),
            **{"sleep": Sleeps(), **kwargs},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def remote():
    workspace, secret = sandbox_workspace_create(name="Client test")
    return workspace, secret


def test_full_order_journey_against_the_sandbox(connect, remote):
    _workspace, secret = remote
    PreWarmedDomain.objects.create(
        domain="warmleads.com", account_type=2, mailbox_count=3
    )
    client = connect(secret)

    client.verify()
    availability = client.check_domains(["fresh-brand.com", "google-outreach.com"])
    similar = client.similar_domains("fresh-brand.com", tlds=["com"])
    stock = client.pre_warmed_domains(search="warm")
    quote = client.simulate_order(order("fresh-brand.com"))
    placed = client.place_order(order("fresh-brand.com"))
    orders = list(client.iter_orders())
    accounts = list(client.iter_accounts(with_passwords=True))
    cancelled = client.cancel_accounts(["jane@fresh-brand.com"])

    assert availability[0].available is True
    assert availability[1].available is False
    assert similar
    assert all(d.endswith(".com") for d in similar)
    assert [(d.domain, d.account_type) for d in stock] == [("warmleads.com", 2)]
    assert (quote.simulation, quote.order_placed, quote.order_is_valid) == (
        True,
        False,
        True,
    )
    assert quote.total_price == Decimal("25")
    assert (placed.order_placed, placed.simulation, placed.total_price) == (
        True,
        False,
        quote.total_price,
    )
    assert [o.domain for o in orders] == ["fresh-brand.com"]
    assert sorted(a.email for a in accounts) == [
        "jane@fresh-brand.com",
        "john@fresh-brand.com",
    ]
    assert not any(a.is_ready for a in accounts), (
        "mailboxes are still being provisioned"
    )
    assert [a.email for a in cancelled] == ["jane@fresh-brand.com"]
    assert cancelled[0].is_cancelled
    assert RequestLog.objects.real_orders().count() == 1


def test_pagination_follows_the_sandbox_cursors(connect, remote):
    _workspace, secret = remote
    client = connect(secret)
    client.place_order(
        order(
            "alpha-mail.com", "bravo-mail.com", "charlie-mail.com", prefixes=("a", "b")
        )
    )
    pages = []

    domains = [
        o.domain
        for o in client.iter_orders(page_size=2, on_page=lambda n, c: pages.append(c))
    ]
    emails = [a.email for a in client.iter_accounts(page_size=4)]

    assert sorted(domains) == ["alpha-mail.com", "bravo-mail.com", "charlie-mail.com"]
    assert pages == [2, 1]
    assert len(emails) == len(set(emails)) == 6


def test_refused_orders_come_back_as_results(connect, remote):
    _workspace, secret = remote
    client = connect(secret)

    quote = client.simulate_order(order("acme.net"))

    assert quote.order_is_valid is False
    assert quote.order_error
    assert "acme.net" in quote.invalid_domains


def test_sandbox_errors_map_to_the_client_error_family(connect, remote):
    _workspace, secret = remote
    _other, read_only = sandbox_workspace_create(
        name="Read only", scopes=["dfy_email_account_orders:read"]
    )
    _poor, no_plan = sandbox_workspace_create(name="No plan", plan_active=False)

    with pytest.raises(InstantlyAuthError, match="^401 Unauthorized: Invalid API key$"):
        connect(secret[::-1]).verify()
    with pytest.raises(InstantlyScopeError, match="^403 Forbidden"):
        connect(read_only).place_order(order("fresh-brand.com"))
    with pytest.raises(
        InstantlyPlanError, match="no active paid plan|not have an active paid plan"
    ):
        connect(no_plan).verify()
    with pytest.raises(InstantlyValidationError, match="restricted keyword") as caught:
        connect(secret).similar_domains("google-mail.com")

    assert (caught.value.code, caught.value.keyword) == ("restricted_domain", "google")
    assert not RequestLog.objects.placed().exists()


def test_sandbox_429_is_retried_after_its_retry_after(connect, remote):
    workspace, secret = remote
    switches_set(workspace=workspace, burst_429_remaining=2)
    client = connect(secret)

    quote = client.simulate_order(order("fresh-brand.com"))

    assert quote.order_is_valid is True
    assert client.request_count == 3
    assert client._sleep == [1.0, 1.0]


def test_sandbox_5xx_on_a_real_order_is_unknown_and_sent_once(connect, remote):
    workspace, secret = remote
    switches_set(workspace=workspace, error_5xx_remaining=3)
    client = connect(secret)

    with pytest.raises(OutcomeUnknown, match="^order outcome unknown: HTTP 500$"):
        client.place_order(order("fresh-brand.com"))

    assert RequestLog.objects.real_orders().count() == 1
    assert client.request_count == 1


def test_key_verification_through_the_factory_against_the_sandbox(workspace, remote):
    _sandbox_workspace, secret = remote
    _other, wrong_scope = sandbox_workspace_create(
        name="Accounts only", scopes=["accounts:read"]
    )
    overrides = {
        "transport": in_process_transport(),
        "limiter": MemoryRateLimiter(),
        "sleep": Sleeps(),
    }

    instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=secret, label="Sandbox", base_url=BASE_URL
    )
    ok = instantly_keys.instantly_key_verify(workspace=workspace, **overrides)
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=wrong_scope,
        label="Sandbox",
        base_url=BASE_URL,
    )
    missing_scope = instantly_keys.instantly_key_verify(
        workspace=workspace, **overrides
    )

    assert ok.status == KeyStatus.OK
    assert missing_scope.status == KeyStatus.MISSING_SCOPE
