"""The client's accounts-API methods: against the sandbox in-process (requests counted), against
recorded answers and the published schema's examples (contract), and their refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine

from orders.instantly import (
    InstantlyClient,
    InstantlyNotFound,
    InstantlyProtocolError,
    InstantlyScopeError,
    ListPage,
    SendingAccount,
    sending_account_path,
)
from orders.ratelimit import MemoryRateLimiter
from sandbox.models import RequestLog
from sandbox.services import sandbox_workspace_create
from sandbox.switches import account_health_set, switches_set
from sandbox.testing import in_process_transport
from tests.orders.test_client_contract import (
    FIXTURES,
    SCHEMA,
    assert_query_valid,
    assert_valid,
    response_validator,
)
from tests.sandbox.conftest import item

pytestmark = pytest.mark.django_db

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
LIST = "/api/v2/accounts"


class Recording(httpx.BaseTransport):
    """The in-process sandbox, keeping every answer body for the contract checks."""

    def __init__(self):
        self.inner = in_process_transport()
        self.bodies = []

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        response.read()
        self.bodies.append(json.loads(response.content))
        return response


class Remote:
    def __init__(self, scopes=("all:all",)):
        self.workspace, self.key = sandbox_workspace_create(
            name="Accounts API", scopes=scopes
        )
        self.sleeps: list[float] = []
        self.transport = Recording()
        self.client = InstantlyClient(
            api_key=self.key,
            base_url="http://testserver/sandbox/api/v2",
            limiter=MemoryRateLimiter(),
            limiter_bucket=str(self.workspace.pk),
            transport=self.transport,
            sleep=self.sleeps.append,
        )

    def requests(self):
        return RequestLog.objects.filter(
            workspace=self.workspace, path__contains="/api/v2/accounts"
        ).count()


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def remote(clock):
    remote = Remote()
    order = {
        "order_type": "dfy",
        "items": [
            item("acme-mail.com", 2),
            item("acme-air.org", 1, provider=2),
            item("acme-bundle.com", 50, provider=3),
        ],
    }
    assert remote.client.place_order(order).order_placed
    clock.shift(timedelta(days=2, seconds=120))
    yield remote
    remote.client.close()


def test_pages_cost_one_request_each_and_carry_their_cursor(remote):
    pages = list(
        remote.client.sending_account_pages(page_size=20, filter="ACC_FILTER_DFY")
    )

    assert [len(p.items) for p in pages] == [20, 20, 13]
    assert remote.requests() == 3
    assert pages[0].starting_after is None
    assert [p.starting_after for p in pages[1:]] == [
        p.next_starting_after for p in pages[:-1]
    ]
    assert pages[-1].next_starting_after is None
    assert isinstance(pages[0], ListPage)


def test_a_page_is_read_again_from_its_cursor(remote):
    second = list(remote.client.sending_account_pages(page_size=20))[1]

    again = next(
        remote.client.sending_account_pages(
            page_size=20, starting_after=second.starting_after
        )
    )

    assert again.items == second.items


def test_accounts_are_typed_with_health_and_score(remote):
    account_health_set(emails=["user0@acme-air.org"], status=-1, warmup_status=-1)

    accounts = {a.email: a for a in remote.client.iter_sending_accounts()}

    google = accounts["user0@acme-mail.com"]
    assert google == SendingAccount(
        email="user0@acme-mail.com",
        status=1,
        warmup_status=1,
        setup_pending=False,
        provider_code=2,
        stat_warmup_score=46.0,
        daily_limit=30,
        timestamp_warmup_start=START + timedelta(seconds=120),
    )
    assert isinstance(google.stat_warmup_score, float)
    broken = accounts["user0@acme-air.org"]
    assert (broken.status, broken.warmup_status, broken.provider_code) == (-1, -1, 8)
    assert len(accounts) == 53


def test_iterating_reports_each_page_and_narrows_by_search(remote):
    seen = []

    found = list(
        remote.client.iter_sending_accounts(
            page_size=5, search="user1", on_page=lambda n, size: seen.append((n, size))
        )
    )

    # user1, user10..user19 on the Microsoft domain, user1 on Google: 12 addresses.
    assert len(found) == 12
    assert all("user1" in a.email for a in found)
    assert seen == [(1, 5), (2, 5), (3, 2)]
    assert remote.requests() == 3


def test_setup_pending_accounts_read_without_score(remote, clock):
    remote.client.place_order(
        {"order_type": "dfy", "items": [item("late-brand.com", 1)]}
    )

    pending = list(
        remote.client.iter_sending_accounts(filter="ACC_FILTER_DFY_SETUP_PENDING")
    )

    assert [(a.email, a.setup_pending) for a in pending] == [
        ("user0@late-brand.com", True)
    ]
    assert pending[0].stat_warmup_score is None
    assert pending[0].timestamp_warmup_start is None
    assert pending[0].daily_limit is None


def test_one_account_by_address(remote):
    account_health_set(emails=["user3@acme-bundle.com"], status=2)

    account = remote.client.sending_account("User3@acme-bundle.com")

    assert (account.email, account.status, account.provider_code) == (
        "user3@acme-bundle.com",
        2,
        3,
    )
    assert remote.requests() == 1


def test_unknown_address_raises_not_found_without_retrying(remote):
    with pytest.raises(InstantlyNotFound) as caught:
        remote.client.sending_account("nobody@acme-mail.com")

    assert caught.value.status_code == 404
    assert "Resource not found" in caught.value.message
    assert remote.requests() == 1


def test_reads_are_retried_through_429_and_5xx(remote):
    switches_set(
        workspace=remote.workspace, burst_429_remaining=1, error_5xx_remaining=1
    )

    account = remote.client.sending_account("user0@acme-mail.com")
    switches_set(workspace=remote.workspace, error_5xx_remaining=1)
    pages = list(remote.client.sending_account_pages())

    assert account.email == "user0@acme-mail.com"
    assert len(pages) == 1
    assert remote.requests() == 5
    assert len(remote.sleeps) == 3


def test_a_key_without_the_accounts_scope_is_a_scope_error(clock):
    remote = Remote(scopes=["dfy_email_account_orders:all"])

    with pytest.raises(InstantlyScopeError):
        list(remote.client.sending_account_pages())
    with pytest.raises(InstantlyScopeError):
        remote.client.sending_account("jane@acme-mail.com")

    assert remote.requests() == 2


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: list(c.sending_account_pages(filter="DFY")), "filter must be"),
        (lambda c: list(c.sending_account_pages(page_size=0)), "page_size"),
        (lambda c: list(c.iter_sending_accounts(page_size=101)), "page_size"),
        (lambda c: c.sending_account("not-an-address"), "email must be"),
    ],
)
def test_bad_arguments_send_nothing(call, error):
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"items": []})

    with (
        InstantlyClient(
            api_key="sk_test_contract_key_0000",
            base_url="https://api.instantly.test/api/v2",
            limiter_bucket="contract",
            transport=httpx.MockTransport(record),
        ) as client,
        pytest.raises(ValueError, match=error),
    ):
        call(client)

    assert sent == []


def test_the_address_stays_one_path_segment():
    assert sending_account_path(" jane+x@acme.com ") == "accounts/jane%2Bx@acme.com"
    assert sending_account_path("a/b@acme.com") == "accounts/a%2Fb@acme.com"


# --- Contract: what the client sends and what it reads, against the published schema ------


def recorded(name):
    return (FIXTURES / "api" / f"{name}.json").read_text()


def mock_client(handler):
    return InstantlyClient(
        api_key="sk_test_contract_key_0000",
        base_url="https://api.instantly.test/api/v2",
        limiter_bucket="contract",
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
    )


def test_queries_match_the_declared_parameters():
    sent = []

    def answer(request):
        sent.append(request)
        return httpx.Response(200, json={"items": []})

    with mock_client(answer) as client:
        list(client.sending_account_pages())
        list(
            client.sending_account_pages(
                page_size=7,
                starting_after="2026-09-01T09:00:00.000Z&jane@acme.com",
                search="acme",
                filter="ACC_FILTER_DFY",
            )
        )

    assert [r.url.path for r in sent] == [LIST, LIST]
    assert dict(sent[1].url.params) == {
        "limit": "7",
        "starting_after": "2026-09-01T09:00:00.000Z&jane@acme.com",
        "search": "acme",
        "filter": "ACC_FILTER_DFY",
    }
    for request in sent:
        assert "get" in SCHEMA["paths"][request.url.path]
        assert_query_valid(request)


def test_recorded_answers_parse():
    def answer(request):
        if request.url.path == LIST:
            return httpx.Response(200, text=recorded("sending_accounts_page"))
        if request.url.path.endswith("nobody@acme-mail.com"):
            return httpx.Response(404, text=recorded("sending_account_404"))
        return httpx.Response(200, text=recorded("sending_account"))

    with mock_client(answer) as client:
        page = next(client.sending_account_pages())
        one = client.sending_account("jane@acme-mail.com")
        with pytest.raises(InstantlyNotFound):
            client.sending_account("nobody@acme-mail.com")

    assert [(a.status, a.warmup_status, a.setup_pending) for a in page.items] == [
        (1, 1, False),
        (-1, -1, False),
        (1, 0, True),
    ]
    assert page.items[0].stat_warmup_score == 87.5
    assert page.items[2].stat_warmup_score is None
    assert page.next_starting_after == "2026-09-03T11:00:00.000Z&ann@acme-bundle.com"
    assert (one.status, one.stat_warmup_score, one.daily_limit) == (2, 64.0, 30)


def _schema_example():
    account = SCHEMA["components"]["schemas"]["Account"]
    return {
        name: prop["example"]
        for name, prop in account["properties"].items()
        if "example" in prop
    }


def test_the_schema_example_is_a_valid_account_and_parses():
    example = _schema_example()
    assert_valid(response_validator("/api/v2/accounts/{email}", "get", 200), example)

    page = {"items": [example], "next_starting_after": "2026-08-13T11:11:58.093Z"}
    assert_valid(response_validator(LIST, "get", 200), page)
    answers = iter([example, page])

    with mock_client(lambda request: httpx.Response(200, json=next(answers))) as c:
        account = c.sending_account("user@example.com")
        listed = next(c.sending_account_pages())

    assert account.email == "user@example.com"
    assert (account.status, account.warmup_status, account.provider_code) == (1, 1, 2)
    assert account.setup_pending is False
    assert account.stat_warmup_score == 85.0
    assert account.daily_limit == 100
    assert account.timestamp_warmup_start == datetime(
        2026, 8, 13, 11, 11, 58, 93000, tzinfo=UTC
    )
    assert listed.items == (account,)
    assert listed.next_starting_after == "2026-08-13T11:11:58.093Z"


def test_unknown_fields_are_ignored_and_missing_required_ones_are_refused():
    grown = {**_schema_example(), "tags": [{"id": "t1"}], "brand_new_field": {"x": 1}}
    broken = {k: v for k, v in _schema_example().items() if k != "warmup_status"}
    answers = iter([grown, broken, {**grown, "stat_warmup_score": "85"}])

    with mock_client(lambda request: httpx.Response(200, json=next(answers))) as c:
        assert c.sending_account("user@example.com").email == "user@example.com"
        with pytest.raises(InstantlyProtocolError, match="warmup_status"):
            c.sending_account("user@example.com")
        with pytest.raises(InstantlyProtocolError, match="stat_warmup_score"):
            c.sending_account("user@example.com")


def test_the_sandbox_answers_validate_against_the_published_schema(remote):
    account_health_set(domains=["acme-air.org"], status=-3, warmup_status=-2)
    remote.transport.bodies.clear()

    list(remote.client.sending_account_pages(page_size=30))
    remote.client.sending_account("user0@acme-air.org")

    bodies = remote.transport.bodies
    assert len(bodies) == 3
    for body in bodies[:2]:
        assert_valid(response_validator(LIST, "get", 200), body)
    assert_valid(response_validator("/api/v2/accounts/{email}", "get", 200), bodies[2])
    assert bodies[2]["status_message"]["responseCode"] == 550
