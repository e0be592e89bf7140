"""The accounts API (GET /accounts, /accounts/{email}): setup, warmup score over injected time,
pagination and filters, the health switches, 404, auth, scope and limits; every answer
validated against the published `Account` schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from sandbox.models import DfyAccount, RequestLog
from sandbox.rules import AccountStatus, WarmupStatus
from sandbox.services import accounts_cancel
from sandbox.switches import account_health_clear, account_health_set, switches_set
from tests.sandbox.conftest import decimal_json, item
from tests.sandbox.schema_util import response_errors

pytestmark = pytest.mark.django_db

LIST = "/accounts"
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
SETUP = timedelta(seconds=120)  # the default provisioning_delay_seconds


def one(sandbox, email):
    return sandbox.get(f"{LIST}/{email}")


def listed(sandbox, **params):
    response = sandbox.get(LIST, params=params)
    body = json.loads(response.content)
    assert response_errors(LIST, "GET", response.status_code, body) == []
    assert response.status_code == 200, body
    return body


def emails(body):
    return [a["email"] for a in body["items"]]


def every_page(sandbox, **params):
    found, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"starting_after": cursor} if cursor else {})}
        body = listed(sandbox, **query)
        pages += 1
        found += emails(body)
        cursor = body.get("next_starting_after")
        if cursor is None:
            return found, pages


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ordered(sandbox, clock):
    """Google acme-mail.com (2), AirMail air-mail.org (1), one minute later Microsoft
    big-bundle.com (50), all set up by the time the test starts."""
    sandbox.order([item("acme-mail.com", 2), item("air-mail.org", 1, provider=2)])
    clock.shift(60)
    sandbox.order([item("big-bundle.com", 50, provider=3)])
    clock.shift(SETUP)
    return sandbox


def test_account_is_setup_pending_until_its_password_appears(sandbox, clock):
    sandbox.order([item("acme-mail.com", 1)])
    clock.shift(SETUP - timedelta(seconds=1))

    before = decimal_json(one(sandbox, "user0@acme-mail.com"))
    password_before = sandbox.get(
        "/dfy-email-account-orders/accounts", params={"with_passwords": "true"}
    ).json()["items"][0]["password"]
    clock.shift(1)
    after = decimal_json(one(sandbox, "user0@acme-mail.com"))
    password_after = sandbox.get(
        "/dfy-email-account-orders/accounts", params={"with_passwords": "true"}
    ).json()["items"][0]["password"]

    assert (password_before, bool(password_after)) == ("", True)
    assert {
        k: before[k]
        for k in (
            "setup_pending",
            "status",
            "warmup_status",
            "stat_warmup_score",
            "daily_limit",
            "timestamp_warmup_start",
        )
    } == {
        "setup_pending": True,
        "status": 1,
        "warmup_status": 0,
        "stat_warmup_score": None,
        "daily_limit": None,
        "timestamp_warmup_start": None,
    }
    assert after["setup_pending"] is False
    assert (after["status"], after["warmup_status"]) == (1, 1)
    assert after["stat_warmup_score"] == 40
    assert after["daily_limit"] == 30
    assert after["timestamp_warmup_start"] == "2026-09-01T09:02:00.000Z"
    assert after["timestamp_updated"] == "2026-09-01T09:02:00.000Z"
    assert before["timestamp_updated"] == before["timestamp_created"]


@pytest.mark.parametrize(
    ("since_setup", "score"),
    [
        (timedelta(hours=23, minutes=59), 40),
        (timedelta(days=1), 43),
        (timedelta(days=10, hours=5), 70),
        (timedelta(days=20), 100),
        (timedelta(days=400), 100),
    ],
)
def test_warmup_score_rises_with_whole_days_since_setup(
    sandbox, clock, since_setup, score
):
    sandbox.order([item("acme-mail.com", 1)])
    clock.shift(SETUP + since_setup)

    body = decimal_json(one(sandbox, "user0@acme-mail.com"))

    assert body["stat_warmup_score"] == score


def test_setup_follows_the_provisioning_delay_switch(sandbox, clock):
    switches_set(workspace=sandbox.workspace, provisioning_delay_seconds=3600)
    sandbox.order([item("acme-mail.com", 1)])
    clock.shift(SETUP)

    pending = listed(sandbox, filter="ACC_FILTER_DFY_SETUP_PENDING")
    clock.shift(timedelta(hours=1))
    done = listed(sandbox, filter="ACC_FILTER_DFY_SETUP_PENDING")

    assert emails(pending) == ["user0@acme-mail.com"]
    assert emails(done) == []


def test_list_has_the_published_fields_and_provider_codes(ordered):
    body = listed(ordered, limit=3)

    first = body["items"][0]
    assert first["email"] == "user0@acme-mail.com"
    assert (first["first_name"], first["last_name"]) == ("Jane", "Doe0")
    assert first["organization"] == str(ordered.workspace.id)
    assert first["is_managed_account"] is True
    assert first["warmup"] == {"limit": 20, "increment": "disabled"}
    # DFY 1 Google, 2 AirMail, 3 Microsoft are Account codes 2, 8 and 3.
    codes = {a["email"].split("@")[1]: a["provider_code"] for a in body["items"]}
    assert codes == {"acme-mail.com": 2, "air-mail.org": 8}
    micro = decimal_json(one(ordered, "user0@big-bundle.com"))
    assert micro["provider_code"] == 3


def test_pages_walk_every_live_mailbox_once_oldest_first(ordered):
    accounts_cancel(workspace=ordered.workspace, emails=["user1@acme-mail.com"])

    found, pages = every_page(ordered, limit=10)

    assert pages == 6  # 52 live mailboxes
    assert len(found) == len(set(found)) == 52
    assert "user1@acme-mail.com" not in found
    assert found[:2] == ["user0@acme-mail.com", "user0@air-mail.org"]
    assert found[-1] == "user49@big-bundle.com"


def test_default_page_is_ten_and_the_last_page_has_no_cursor(ordered):
    first = listed(ordered)
    last = listed(ordered, limit=100)

    assert len(first["items"]) == 10
    assert first["next_starting_after"] == (
        f"{first['items'][-1]['timestamp_created']}&{first['items'][-1]['email']}"
    )
    assert len(last["items"]) == 53
    assert "next_starting_after" not in last


def test_cursor_survives_the_cancellation_of_its_row(ordered):
    page = listed(ordered, limit=2)
    accounts_cancel(workspace=ordered.workspace, emails=[page["items"][-1]["email"]])

    rest = listed(ordered, limit=100, starting_after=page["next_starting_after"])

    assert len(rest["items"]) == 51
    assert emails(rest)[0] == "user0@air-mail.org"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "2026-09-01T09:00:00.000Z",
        "2026-09-01T09:00:00.000Z&nobody@acme-mail.com",
        "2026-09-01T09:00:00.000&user0@acme-mail.com",
        "2026-09-01T09:00:00.001Z&user0@acme-mail.com",
    ],
)
def test_cursor_the_list_did_not_issue_is_a_400(ordered, cursor):
    response = ordered.get(LIST, params={"starting_after": cursor})

    assert response.status_code == 400
    assert response.json()["message"] == (
        "querystring/starting_after is not a valid cursor"
    )


def test_cursor_of_another_workspace_is_a_400(ordered, make_sandbox):
    cursor = listed(ordered, limit=1)["next_starting_after"]
    other = make_sandbox(name="Other")

    response = other.get(LIST, params={"starting_after": cursor})

    assert response.status_code == 400


def test_search_is_a_substring_of_the_address(ordered):
    assert emails(listed(ordered, search="AIR-MAIL")) == ["user0@air-mail.org"]
    assert len(listed(ordered, search="user4", limit=100)["items"]) == 11
    assert emails(listed(ordered, search="nothing-like-it")) == []


@pytest.mark.parametrize(
    ("code", "count"), [(2, 2), (8, 1), (3, 50), (1, 0), (4, 0), (11, 0)]
)
def test_provider_code_uses_the_account_code_list(ordered, code, count):
    body = listed(ordered, provider_code=code, limit=100)

    assert len(body["items"]) == count
    assert all(a["provider_code"] == code for a in body["items"])


def test_switches_by_address_and_by_domain_show_in_the_answers(ordered):
    changed = account_health_set(emails=["User0@Acme-Mail.com"], status=-1)
    changed += account_health_set(domains=["air-mail.org"], status=-3)
    changed += account_health_set(
        emails=["user1@acme-mail.com"], status=2, warmup_status=0
    )
    changed += account_health_set(domains=["big-bundle.com"], warmup_status=-1)

    assert changed == 53
    disconnected = decimal_json(one(ordered, "user0@acme-mail.com"))
    assert disconnected["status"] == -1
    assert disconnected["status_message"]["code"] == "EAUTH"
    assert decimal_json(one(ordered, "user0@air-mail.org"))["status"] == -3
    paused = decimal_json(one(ordered, "user1@acme-mail.com"))
    assert (paused["status"], paused["warmup_status"]) == (2, 0)
    assert "status_message" not in paused
    banned = decimal_json(one(ordered, "user7@big-bundle.com"))
    assert (banned["status"], banned["warmup_status"]) == (1, -1)
    # The score is still reported while warmup is off (the last one Instantly measured).
    assert banned["stat_warmup_score"] == 40


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"filter": "ACC_FILTER_ERROR"}, ["user0@acme-mail.com", "user0@air-mail.org"]),
        ({"filter": "ACC_FILTER_PAUSED"}, ["user1@acme-mail.com"]),
        ({"status": 2}, ["user1@acme-mail.com"]),
        ({"status": -1}, ["user0@acme-mail.com"]),
        ({"status": -2}, ["user0@air-mail.org"]),
        ({"status": 3}, []),
        ({"filter": "ACC_FILTER_W_PAUSED"}, ["user1@acme-mail.com"]),
        ({"filter": "ACC_FILTER_W_ERROR"}, ["user3@big-bundle.com"]),
        ({"filter": "ACC_FILTER_DFY_SETUP_PENDING"}, []),
        ({"filter": "ACC_FILTER_PW_ACCOUNTS"}, []),
    ],
)
def test_filters_and_status_select_the_switched_mailboxes(ordered, query, expected):
    account_health_set(emails=["user0@acme-mail.com"], status=-1)
    account_health_set(emails=["user0@air-mail.org"], status=-2)
    account_health_set(emails=["user1@acme-mail.com"], status=2, warmup_status=0)
    account_health_set(emails=["user3@big-bundle.com"], warmup_status=-3)

    assert emails(listed(ordered, limit=100, **query)) == expected


def test_active_status_and_warmup_filters_count_the_natural_state(ordered, clock):
    account_health_set(emails=["user0@acme-mail.com"], status=-1, warmup_status=0)
    account_health_set(emails=["user1@acme-mail.com"], status=1, warmup_status=1)
    ordered.order([item("late-one.com", 1)])  # still being set up

    active = listed(ordered, status=1, limit=100)
    warming = listed(ordered, filter="ACC_FILTER_W_ACTIVE", limit=100)
    not_warming = listed(ordered, filter="ACC_FILTER_W_PAUSED", limit=100)

    assert len(active["items"]) == 53  # everyone but the disconnected one
    assert len(warming["items"]) == 52  # neither the paused one nor the new one
    assert emails(not_warming) == ["user0@acme-mail.com", "user0@late-one.com"]


def test_dfy_and_no_tracking_domain_filters_hold_for_every_mailbox(ordered):
    assert len(listed(ordered, filter="ACC_FILTER_DFY", limit=100)["items"]) == 53
    assert len(listed(ordered, filter="ACC_FILTER_NO_CTD", limit=100)["items"]) == 53


def test_clearing_restores_the_natural_state(ordered, clock):
    account_health_set(domains=["acme-mail.com"], status=-1, warmup_status=-1)
    clock.shift(60)

    cleared = account_health_clear(domains=["acme-mail.com", "air-mail.org"])
    again = account_health_clear(domains=["acme-mail.com"])

    assert (cleared, again) == (2, 0)
    body = decimal_json(one(ordered, "user0@acme-mail.com"))
    assert (body["status"], body["warmup_status"]) == (1, 1)
    assert body["timestamp_updated"] == "2026-09-01T09:04:00.000Z"


def test_switches_can_be_narrowed_to_one_workspace(ordered, make_sandbox, clock):
    other = make_sandbox(name="Other")
    other.order([item("other-brand.com", 1)])

    changed = account_health_set(
        domains=["acme-mail.com", "other-brand.com"],
        status=-1,
        workspace=other.workspace,
    )

    assert changed == 1
    assert DfyAccount.objects.filter(status_override=-1).get().email == (
        "user0@other-brand.com"
    )


def test_switches_refuse_what_they_cannot_mean(ordered):
    with pytest.raises(ValueError, match="name a status"):
        account_health_set(emails=["user0@acme-mail.com"])
    with pytest.raises(ValueError, match="99"):
        account_health_set(emails=["user0@acme-mail.com"], status=99)
    with pytest.raises(ValueError, match="7"):
        account_health_set(emails=["user0@acme-mail.com"], warmup_status=7)
    with pytest.raises(TypeError, match="sequences"):
        account_health_set(emails="user0@acme-mail.com", status=-1)

    assert not DfyAccount.objects.exclude(status_override=None).exists()


def test_switch_values_are_the_published_enums():
    assert {int(s) for s in AccountStatus} == {1, 2, 3, -1, -2, -3}
    assert {int(s) for s in WarmupStatus} == {0, 1, -1, -2, -3}


def test_one_account_by_address_any_case(ordered):
    response = one(ordered, "USER1@acme-mail.com")

    body = json.loads(response.content)
    assert response.status_code == 200
    assert response_errors("/accounts/{email}", "GET", 200, body) == []
    assert body["email"] == "user1@acme-mail.com"


@pytest.mark.parametrize("email", ["nobody@acme-mail.com", "user0@other-brand.com"])
def test_unknown_or_foreign_address_is_instantlys_404(ordered, make_sandbox, email):
    make_sandbox(name="Other").order([item("other-brand.com", 1)])

    response = one(ordered, email)

    body = json.loads(response.content)
    assert response.status_code == 404
    assert response_errors("/accounts/{email}", "GET", 404, body) == []
    assert body == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "Resource not found",
    }


def test_cancelled_mailbox_is_not_found(ordered):
    accounts_cancel(workspace=ordered.workspace, emails=["user0@acme-mail.com"])

    assert one(ordered, "user0@acme-mail.com").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": 0}, "querystring/limit must be >= 1"),
        ({"limit": 101}, "querystring/limit must be <= 100"),
        ({"status": "active"}, "querystring/status must be number"),
        (
            {"status": 4},
            "querystring/status must be equal to one of the allowed values",
        ),
        ({"status": [1, 2]}, "querystring/status must be number"),
        (
            {"provider_code": 5},
            "querystring/provider_code must be equal to one of the allowed values",
        ),
        (
            {"filter": "ACC_FILTER_NOPE"},
            "querystring/filter must be equal to one of the allowed values",
        ),
        ({"search": ["a", "b"]}, "querystring/search must be string"),
    ],
)
def test_bad_query_is_a_400_naming_the_parameter(ordered, query, message):
    response = ordered.get(LIST, params=query)

    body = json.loads(response.content)
    assert response.status_code == 400
    assert response_errors(LIST, "GET", 400, body) == []
    assert body["message"] == message


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (["accounts:read"], 200),
        (["accounts:all"], 200),
        (["all:read"], 200),
        (["dfy_email_account_orders:all"], 403),
        (["accounts:create"], 403),
    ],
)
def test_accounts_scope_is_its_own_resource(make_sandbox, scopes, status):
    client = make_sandbox(scopes=scopes)

    listing = client.get(LIST)
    single = one(client, "nobody@acme-mail.com")

    assert listing.status_code == status
    assert single.status_code == (404 if status == 200 else 403)


def test_no_plan_and_no_key_answer_like_the_other_endpoints(make_sandbox, anonymous):
    no_plan = make_sandbox(plan_active=False)

    assert no_plan.get(LIST).status_code == 402
    assert one(no_plan, "x@y.com").status_code == 402
    missing = anonymous.get(f"{LIST}/x@y.com")
    assert missing.status_code == 401
    assert response_errors("/accounts/{email}", "GET", 401, missing.json()) == []


def test_injected_429_and_500_reach_the_single_account(sandbox):
    switches_set(
        workspace=sandbox.workspace, burst_429_remaining=1, error_5xx_remaining=1
    )

    limited = one(sandbox, "x@y.com")
    failed = one(sandbox, "x@y.com")

    assert (limited.status_code, failed.status_code) == (429, 500)
    assert limited.headers["Retry-After"] == "1"
    assert response_errors("/accounts/{email}", "GET", 429, limited.json()) == []


def test_the_accounts_api_counts_against_the_workspace_rate_limit(sandbox, clock):
    for _ in range(100):
        sandbox.get(LIST, params={"limit": 1})

    limited = one(sandbox, "x@y.com")

    assert limited.status_code == 429
    assert RequestLog.objects.filter(workspace=sandbox.workspace).count() == 101


def test_other_methods_are_instantlys_route_404(sandbox):
    response = sandbox.post(LIST, {})

    assert response.status_code == 404
    assert response.json()["message"] == "Route POST:/api/v2/accounts not found"


@pytest.mark.parametrize(
    ("action", "status", "warmup"),
    [
        ("disconnect", -1, 1),
        ("soft_bounce", -2, 1),
        ("sending_error", -3, 1),
        ("pause", 2, 1),
        ("pause_warmup", 1, 0),
        ("ban_warmup", 1, -1),
    ],
)
def test_admin_actions_set_and_clear_the_switches(
    admin_client, ordered, action, status, warmup
):
    url = reverse("admin:sandbox_dfyaccount_changelist")
    pk = DfyAccount.objects.get(email="user0@acme-mail.com").pk

    response = admin_client.post(
        url, {"action": action, "_selected_action": [pk]}, follow=True
    )
    switched = decimal_json(one(ordered, "user0@acme-mail.com"))
    admin_client.post(url, {"action": "clear_health", "_selected_action": [pk]})
    cleared = decimal_json(one(ordered, "user0@acme-mail.com"))

    assert "1 mailbox(es) changed." in response.content.decode()
    assert (switched["status"], switched["warmup_status"]) == (status, warmup)
    assert (cleared["status"], cleared["warmup_status"]) == (1, 1)
    assert admin_client.get(url, {"status_override__exact": status}).status_code == 200
