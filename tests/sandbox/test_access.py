"""Keys, scopes, plans, rate limits, fault switches and the request log."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
import time_machine
from django.utils import timezone

from sandbox.models import (
    DomainOrder,
    RateCounter,
    RequestLog,
    SandboxKey,
    SandboxSettings,
    real_order_posts,
)
from sandbox.switches import switches_set
from tests.sandbox.conftest import ORDERS, item

pytestmark = pytest.mark.django_db

CHECK = f"{ORDERS}/domains/check"
START = datetime(2026, 9, 1, 9, 0, 0, tzinfo=UTC)

# (method, path, body, the scope action Instantly requires)
DFY_ENDPOINTS = [
    (
        "POST",
        ORDERS,
        {"items": [item("fresh.com")], "order_type": "dfy", "simulation": True},
        "create",
    ),
    ("POST", f"{ORDERS}/domains/similar", {"domain": "fresh.com"}, "create"),
    ("POST", CHECK, {"domains": ["fresh.com"]}, "create"),
    ("GET", ORDERS, None, "read"),
    ("POST", f"{ORDERS}/domains/pre-warmed-up-list", {}, "read"),
    ("GET", f"{ORDERS}/accounts", None, "read"),
    ("POST", f"{ORDERS}/accounts/cancel", {"accounts": ["a@fresh.com"]}, "delete"),
]
ACTIONS = ["create", "read", "update", "delete"]


def call(client, method, path, body):
    return client.get(path) if method == "GET" else client.post(path, json=body)


@pytest.mark.parametrize(
    ("method", "path", "body", "action"),
    DFY_ENDPOINTS,
    ids=[f"{m} {p}" for m, p, _b, _a in DFY_ENDPOINTS],
)
def test_each_endpoint_accepts_its_scope_family_only(
    make_sandbox, method, path, body, action
):
    granted = [
        f"dfy_email_account_orders:{action}",
        "dfy_email_account_orders:all",
        f"all:{action}",
        "all:all",
    ]
    others = [f"dfy_email_account_orders:{a}" for a in ACTIONS if a != action]
    refused = [
        *others,
        *[f"all:{a}" for a in ACTIONS if a != action],
        "accounts:all",
        "workspaces:read",
    ]

    for scope in granted:
        assert (
            call(make_sandbox(scopes=[scope]).http, method, path, body).status_code
            == 200
        ), scope
    for scope in refused:
        assert (
            call(make_sandbox(scopes=[scope]).http, method, path, body).status_code
            == 403
        ), scope


def test_workspace_endpoint_needs_a_workspaces_scope(make_sandbox):
    for scope in ["workspaces:read", "workspaces:all", "all:read", "all:all"]:
        assert (
            make_sandbox(scopes=[scope]).get("/workspaces/current").status_code == 200
        )
    assert (
        make_sandbox(scopes=["dfy_email_account_orders:all"])
        .get("/workspaces/current")
        .status_code
        == 403
    )


def test_a_key_with_several_scopes(make_sandbox):
    sandbox = make_sandbox(
        scopes=["dfy_email_account_orders:read", "dfy_email_account_orders:delete"]
    )

    assert sandbox.get(ORDERS).status_code == 200
    assert sandbox.post(CHECK, {"domains": ["a.com"]}).status_code == 403


def test_workspace_without_plan_gets_402_but_can_identify_itself(make_sandbox):
    sandbox = make_sandbox(plan_active=False)

    assert sandbox.get(ORDERS).status_code == 402
    current = sandbox.get("/workspaces/current")
    assert current.status_code == 200
    assert current.json()["plan_id"] is None


def test_missing_scope_is_reported_before_missing_plan(make_sandbox):
    sandbox = make_sandbox(plan_active=False, scopes=["leads:read"])

    assert sandbox.get(ORDERS).status_code == 403


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic abc", "Authorization header must be 'Bearer <API key>'"),
        ("Bearer", "Authorization header must be 'Bearer <API key>'"),
        ("", "Missing Authorization header"),
        ("Bearer sbx_unknown", "Invalid API key"),
    ],
)
def test_bad_authorization_headers(anonymous, header, message):
    response = anonymous.get(ORDERS, headers={"Authorization": header})

    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": message,
    }


def test_revoked_key_is_refused(sandbox):
    SandboxKey.objects.update(revoked_at=timezone.now())

    assert sandbox.get(ORDERS).json()["message"] == "Invalid API key"


def test_keys_are_stored_as_hashes_only(sandbox):
    key = SandboxKey.objects.get()

    assert sandbox.key.startswith("sbx_")
    assert key.last4 == sandbox.key[-4:]
    assert sandbox.key not in {key.key_hash, key.name, str(key.scopes)}
    assert len(key.key_hash) == 64


# --- rate limits ---------------------------------------------------------------------------
def test_31st_domain_check_in_a_minute_is_refused(sandbox, make_sandbox):
    other = make_sandbox(name="Other")
    with time_machine.travel(START, tick=False) as clock:
        answers = [
            sandbox.post(CHECK, {"domains": ["fresh.com"]}).status_code
            for _ in range(31)
        ]
        refused = sandbox.post(CHECK, {"domains": ["fresh.com"]})
        others = other.post(CHECK, {"domains": ["fresh.com"]}).status_code
        listing = sandbox.get(ORDERS).status_code
        clock.shift(60)
        later = sandbox.post(CHECK, {"domains": ["fresh.com"]}).status_code

    assert answers == [200] * 30 + [429]
    assert refused.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Rate limit exceeded",
    }
    assert refused.headers["Retry-After"] == "60"
    assert (others, listing, later) == (200, 200, 200)


def test_900_checks_an_hour(sandbox):
    with time_machine.travel(START, tick=False):
        hour = int(time.time() // 3600)
        RateCounter.objects.create(
            workspace=sandbox.workspace,
            bucket="check:h",
            slot=hour,
            expires_at=(hour + 1) * 3600,
            count=900,
        )

        response = sandbox.post(CHECK, {"domains": ["fresh.com"]})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3600"


def test_100_requests_a_second_per_workspace(sandbox):
    with time_machine.travel(START, tick=False) as clock:
        answers = [sandbox.get(ORDERS).status_code for _ in range(101)]
        clock.shift(1)
        next_second = sandbox.get(ORDERS).status_code

    assert answers == [200] * 100 + [429]
    assert next_second == 200


def test_6000_requests_a_minute_per_workspace(sandbox):
    with time_machine.travel(START, tick=False) as clock:
        minute = int(time.time() // 60)
        RateCounter.objects.create(
            workspace=sandbox.workspace,
            bucket="m",
            slot=minute,
            expires_at=(minute + 1) * 60,
            count=6000,
        )
        refused = sandbox.get(ORDERS)
        clock.shift(60)
        allowed = sandbox.get(ORDERS)

    assert (refused.status_code, allowed.status_code) == (429, 200)


def test_finished_windows_are_pruned(sandbox):
    with time_machine.travel(START, tick=False) as clock:
        sandbox.get(ORDERS)
        clock.shift(120)
        sandbox.get(ORDERS)

    assert sorted(RateCounter.objects.values_list("bucket", "slot")) == [
        ("m", int((START.timestamp() + 120) // 60)),
        ("s", int(START.timestamp() + 120)),
    ]


def test_rate_limits_can_be_switched_off(sandbox):
    switches_set(enforce_rate_limits=False)

    with time_machine.travel(START, tick=False):
        answers = {
            sandbox.post(CHECK, {"domains": ["fresh.com"]}).status_code
            for _ in range(40)
        }

    assert answers == {200}
    assert not RateCounter.objects.exists()


# --- fault switches ------------------------------------------------------------------------
def test_burst_of_429s_then_normal(sandbox, make_sandbox):
    other = make_sandbox(name="Other")
    switches_set(burst_429_remaining=2)

    answers = [
        sandbox.get(ORDERS).status_code,
        other.get(ORDERS).status_code,
        sandbox.get(ORDERS).status_code,
    ]

    assert answers == [429, 429, 200]
    assert SandboxSettings.load().burst_429_remaining == 0


def test_next_n_5xx_on_one_workspace(sandbox, make_sandbox):
    other = make_sandbox(name="Other")
    switches_set(workspace=sandbox.workspace, error_5xx_remaining=2)

    answers = [
        sandbox.get(ORDERS).status_code,
        other.get(ORDERS).status_code,
        sandbox.get(ORDERS).status_code,
        sandbox.get(ORDERS).status_code,
    ]

    assert answers == [500, 200, 500, 200]


def test_5xx_rate(sandbox):
    switches_set(error_5xx_rate="1")
    assert sandbox.get(ORDERS).status_code == 500

    switches_set(error_5xx_rate="0")
    assert sandbox.get(ORDERS).status_code == 200


def test_latency_is_added_to_every_response(sandbox, anonymous):
    switches_set(latency_ms=60)

    started = time.monotonic()
    sandbox.get(ORDERS)
    anonymous.get(ORDERS)

    assert time.monotonic() - started >= 0.12


def test_timeout_after_record_records_then_holds_the_answer(sandbox):
    switches_set(
        workspace=sandbox.workspace,
        timeout_after_record=True,
        timeout_after_record_seconds=1.5,
    )

    started = time.monotonic()
    quote = sandbox.order([item("fresh.com")], simulation=True)
    quick = time.monotonic() - started
    started = time.monotonic()
    placed = sandbox.order([item("fresh.com")])
    held = time.monotonic() - started

    assert quote["order_placed"] is False
    # Time is the subject here. The hold is long enough that "not held" has a generous
    # margin even on a loaded machine (an in-process simulation takes milliseconds).
    assert quick < 1.5
    assert placed["order_placed"] is True
    assert held >= 1.5
    assert DomainOrder.objects.filter(domain="fresh.com").exists()
    assert RequestLog.objects.real_orders().placed().count() == 1


def test_timeout_without_record_records_nothing(sandbox):
    switches_set(timeout_without_record=True, timeout_after_record_seconds=0.05)

    response = sandbox.post(ORDERS, {"items": [item("fresh.com")], "order_type": "dfy"})

    assert response.status_code == 504
    assert response.json()["error"] == "Gateway Timeout"
    assert not DomainOrder.objects.exists()
    assert real_order_posts(sandbox.workspace) == 1
    assert not RequestLog.objects.placed().exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_client_that_times_out_finds_the_order_recorded(live_server):
    from sandbox.services import sandbox_workspace_create

    workspace, key = sandbox_workspace_create()
    switches_set(
        workspace=workspace, timeout_after_record=True, timeout_after_record_seconds=1.0
    )
    body = {"items": [item("fresh.com")], "order_type": "dfy"}

    with httpx.Client(
        base_url=f"{live_server.url}/sandbox/api/v2",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(ORDERS, json=body, timeout=0.3)
        listed = client.get(ORDERS, timeout=5).json()["items"]

    assert [order["domain"] for order in listed] == ["fresh.com"]
    assert real_order_posts(workspace) == 1
    time.sleep(0.8)  # let the held answer finish before the database is flushed


# --- request log ---------------------------------------------------------------------------
def test_request_log_counts_real_order_posts(sandbox, make_sandbox, anonymous):
    other = make_sandbox(name="Other")
    sandbox.order([item("fresh.com")], simulation=True)
    sandbox.order([item("fresh.com")])
    sandbox.order([item("google.com")])  # refused by the rules, still a real POST
    # An empty order is refused (400) but was still a real POST.
    sandbox.post(ORDERS, {"items": [], "order_type": "dfy", "simulation": False})
    other.order([item("other.com")])
    sandbox.get(ORDERS)
    anonymous.post(ORDERS, json={"items": [], "order_type": "dfy"})

    assert real_order_posts(sandbox.workspace) == 3
    assert real_order_posts(other.workspace) == 1
    assert real_order_posts() == 5
    assert (
        RequestLog.objects.real_orders()
        .placed()
        .for_workspace(sandbox.workspace)
        .count()
        == 1
    )
    assert RequestLog.objects.count() == 7
    unauthenticated = RequestLog.objects.get(workspace=None)
    assert (unauthenticated.status_code, unauthenticated.real_order) == (401, True)


def test_every_request_is_logged_with_its_status(sandbox):
    sandbox.get(ORDERS)
    sandbox.get("/nope")
    sandbox.post(CHECK, {"domains": "x"})

    assert list(
        RequestLog.objects.order_by("pk").values_list("method", "path", "status_code")
    ) == [
        ("GET", "/sandbox/api/v2/dfy-email-account-orders", 200),
        ("GET", "/sandbox/api/v2/nope", 404),
        ("POST", "/sandbox/api/v2/dfy-email-account-orders/domains/check", 400),
    ]
