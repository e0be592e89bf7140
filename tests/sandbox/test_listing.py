"""The list endpoints (cursors, limits, passwords) and cancellation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from sandbox.models import DfyAccount, DomainOrder
from sandbox.switches import switches_set
from sandbox.timestamps import parse_iso
from tests.sandbox.conftest import ORDERS, decimal_json, item

pytestmark = pytest.mark.django_db

ACCOUNTS = f"{ORDERS}/accounts"
CANCEL = f"{ORDERS}/accounts/cancel"
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def pages(sandbox, path, **params):
    """Every page, following next_starting_after until it is absent."""
    result, cursor = [], None
    for _ in range(500):
        query = {**params, **({"starting_after": cursor} if cursor else {})}
        response = sandbox.get(path, params=query)
        assert response.status_code == 200, response.text
        body = decimal_json(response)
        result.append(body)
        cursor = body.get("next_starting_after")
        if cursor is None:
            return result
    raise AssertionError("pagination never ended")


@pytest.fixture
def many_accounts(sandbox):
    """260 mailboxes over three orders placed a minute apart."""
    with time_machine.travel(START, tick=False) as clock:
        sandbox.order([item(f"bundle{n}.com", 50, provider=3) for n in range(3)])
        clock.shift(60)
        sandbox.order([item(f"bundle{n}.com", 50, provider=3) for n in range(3, 5)])
        clock.shift(60)
        sandbox.order([item("small-a.com", 5), item("small-b.com", 5)])
    return sandbox


def test_accounts_pagination_sees_every_mailbox_once(many_accounts):
    result = pages(many_accounts, ACCOUNTS, limit=100)

    ids = [a["id"] for page in result for a in page["items"]]
    assert [len(page["items"]) for page in result] == [100, 100, 60]
    assert len(ids) == len(set(ids)) == DfyAccount.objects.count() == 260
    assert "next_starting_after" not in result[-1]
    created = [a["timestamp_created"] for page in result for a in page["items"]]
    assert created == sorted(created)


@pytest.mark.parametrize("limit", [1, 7, 99])
def test_accounts_limit_is_respected(many_accounts, limit):
    switches_set(
        enforce_rate_limits=False
    )  # 260 pages of 1 go past 100 requests a second

    result = pages(many_accounts, ACCOUNTS, limit=limit)

    assert all(len(page["items"]) == limit for page in result[:-1])
    assert sum(len(page["items"]) for page in result) == 260


def test_accounts_cursor_is_id_colon_timestamp(many_accounts):
    body = decimal_json(many_accounts.get(ACCOUNTS, params={"limit": 2}))

    pk, _, moment = body["next_starting_after"].partition(":")
    assert uuid.UUID(pk) == uuid.UUID(body["items"][-1]["id"])
    assert parse_iso(moment) == parse_iso(body["items"][-1]["timestamp_created"])
    assert moment.endswith("Z")


def test_default_page_size_is_ten(many_accounts):
    assert len(decimal_json(many_accounts.get(ACCOUNTS))["items"]) == 10


def test_orders_pagination(sandbox):
    sandbox.order([item(f"domain{n:02}.com") for n in range(25)])

    result = pages(sandbox, ORDERS, limit=10)

    domains = [o["domain"] for page in result for o in page["items"]]
    assert domains == [f"domain{n:02}.com" for n in range(25)]
    assert [len(page["items"]) for page in result] == [10, 10, 5]
    assert uuid.UUID(result[0]["next_starting_after"])
    assert {o["workspace_id"] for page in result for o in page["items"]} == {
        str(sandbox.workspace.id)
    }


def test_lists_show_only_the_keys_workspace(sandbox, make_sandbox):
    make_sandbox(name="Other").order([item("theirs.com", 2)])
    sandbox.order([item("mine.com", 1)])

    orders = decimal_json(sandbox.get(ORDERS))["items"]
    accounts = decimal_json(sandbox.get(ACCOUNTS))["items"]

    assert [o["domain"] for o in orders] == ["mine.com"]
    assert [a["email"] for a in accounts] == ["user0@mine.com"]


def test_rows_created_while_paging_come_last(sandbox):
    with time_machine.travel(START, tick=False) as clock:
        sandbox.order([item("first.com", 3)])
        page = decimal_json(sandbox.get(ACCOUNTS, params={"limit": 2}))
        clock.shift(5)
        sandbox.order([item("later.com", 1)])

    rest = decimal_json(
        sandbox.get(ACCOUNTS, params={"starting_after": page["next_starting_after"]})
    )

    assert [a["email"] for a in rest["items"]] == ["user2@first.com", "user0@later.com"]


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        (ORDERS, "not-a-uuid"),
        (ORDERS, str(uuid.uuid4())),
        (ACCOUNTS, "not-a-cursor"),
        (ACCOUNTS, f"{uuid.uuid4()}:yesterday"),
        (ACCOUNTS, "nope:2026-01-01T00:00:00.000Z"),
    ],
)
def test_bad_cursor_is_a_400(sandbox, path, cursor):
    response = sandbox.get(path, params={"starting_after": cursor})

    assert response.status_code == 400
    assert (
        response.json()["message"] == "querystring/starting_after is not a valid cursor"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "querystring/limit must be >= 1"),
        ({"limit": 101}, "querystring/limit must be <= 100"),
        ({"limit": "ten"}, "querystring/limit must be integer"),
        ({"with_passwords": "yes"}, "querystring/with_passwords must be boolean"),
    ],
)
def test_bad_query_is_a_400(sandbox, params, message):
    response = sandbox.get(ACCOUNTS, params=params)

    assert response.status_code == 400
    assert response.json()["message"] == message


def test_passwords_stay_empty_until_provisioning_is_over(sandbox):
    switches_set(provisioning_delay_seconds=120)
    with time_machine.travel(START, tick=False) as clock:
        sandbox.order([item("fresh.com", 2)])
        early = decimal_json(sandbox.get(ACCOUNTS, params={"with_passwords": "true"}))[
            "items"
        ]
        clock.shift(119)
        still = decimal_json(sandbox.get(ACCOUNTS, params={"with_passwords": "true"}))[
            "items"
        ]
        clock.shift(1)
        ready = decimal_json(sandbox.get(ACCOUNTS, params={"with_passwords": "true"}))[
            "items"
        ]
        plain = decimal_json(sandbox.get(ACCOUNTS))["items"]

    assert [a["password"] for a in early + still] == ["", "", "", ""]
    assert all(len(a["password"]) >= 12 for a in ready)
    assert all("password" not in a for a in plain)


def test_workspace_provisioning_delay_overrides_global(sandbox):
    switches_set(provisioning_delay_seconds=3600)
    switches_set(workspace=sandbox.workspace, provisioning_delay_seconds=0)

    sandbox.order([item("fresh.com", 1)])

    assert decimal_json(sandbox.get(ACCOUNTS, params={"with_passwords": "true"}))[
        "items"
    ][0]["password"]


def test_cancelling_the_last_mailbox_cancels_the_domain(sandbox):
    switches_set(provisioning_delay_seconds=0)
    with time_machine.travel(START, tick=False) as clock:
        sandbox.order([item("fresh.com", 2)])
        clock.shift(30)
        first = decimal_json(
            sandbox.post(CANCEL, {"accounts": ["USER0@fresh.com", "ghost@fresh.com"]})
        )
        order_after_first = DomainOrder.objects.get(domain="fresh.com")
        clock.shift(30)
        second = decimal_json(sandbox.post(CANCEL, {"accounts": ["user1@fresh.com"]}))
    listed = decimal_json(sandbox.get(ORDERS))["items"][0]
    accounts = decimal_json(sandbox.get(ACCOUNTS, params={"with_passwords": "true"}))[
        "items"
    ]

    assert [a["email"] for a in first["items"]] == ["user0@fresh.com"]
    assert first["items"][0]["timestamp_cancelled"] == "2026-09-01T09:00:30.000Z"
    assert order_after_first.timestamp_cancelled is None
    assert [a["email"] for a in second["items"]] == ["user1@fresh.com"]
    assert listed["timestamp_cancelled"] == "2026-09-01T09:01:00.000Z"
    assert [a["password"] for a in accounts] == ["", ""]
    assert all(a["timestamp_cancelled"] for a in accounts)


def test_cancel_again_returns_the_original_timestamp(sandbox):
    sandbox.order([item("fresh.com", 2)])
    first = decimal_json(sandbox.post(CANCEL, {"accounts": ["user0@fresh.com"]}))

    again = decimal_json(sandbox.post(CANCEL, {"accounts": ["user0@fresh.com"]}))

    assert again == first


def test_cancel_ignores_other_workspaces_and_unknown_addresses(sandbox, make_sandbox):
    other = make_sandbox(name="Other")
    other.order([item("theirs.com", 1)])

    body = decimal_json(
        sandbox.post(
            CANCEL, {"accounts": ["user0@theirs.com", "nobody", "x\u0000@y.com"]}
        )
    )

    assert body == {"items": []}
    assert DfyAccount.objects.get(email="user0@theirs.com").timestamp_cancelled is None


def test_cancelled_domain_takes_no_extra_accounts_and_stays_taken(sandbox):
    sandbox.order([item("fresh.com", 1)])
    sandbox.post(CANCEL, {"accounts": ["user0@fresh.com"]})

    extra = sandbox.order(
        [
            {
                "domain": "fresh.com",
                "accounts": [
                    {"email_address_prefix": "b", "first_name": "B", "last_name": "C"}
                ],
            }
        ],
        "extra_accounts",
    )
    again = sandbox.order([item("fresh.com", 1)])

    assert extra["order_error"] == "missing_domain_orders"
    assert again["order_error"] == "unavailable_domains"


def test_prefix_can_be_reused_after_cancellation(sandbox):
    sandbox.order([item("fresh.com", 2)])
    sandbox.post(CANCEL, {"accounts": ["user0@fresh.com"]})

    body = sandbox.order([item("fresh.com", 1)], "extra_accounts")

    assert body["order_placed"] is True
    assert DfyAccount.objects.filter(email="user0@fresh.com").count() == 2
    cancelled = decimal_json(sandbox.post(CANCEL, {"accounts": ["user0@fresh.com"]}))[
        "items"
    ]
    assert len(cancelled) == 1
    assert cancelled[0]["timestamp_cancelled"]
    assert DfyAccount.objects.active().filter(email="user0@fresh.com").count() == 0


def test_timestamps_are_milliseconds_utc(sandbox):
    with time_machine.travel(START + timedelta(microseconds=123456), tick=False):
        sandbox.order([item("fresh.com", 1)])

    assert (
        decimal_json(sandbox.get(ORDERS))["items"][0]["timestamp_created"]
        == "2026-09-01T09:00:00.123Z"
    )
