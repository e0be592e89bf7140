"""Key verification: the stored status follows what Instantly says about the key."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from django.urls import reverse

from orders import instantly_keys, tasks
from orders.instantly import InstantlyAuthError, InstantlyError, OutcomeUnknown
from orders.models import InstantlyKey, KeyStatus, PendingInstantlyKey
from orders.ratelimit import FileRateLimiter, MemoryRateLimiter
from tests import task_capture
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api"
SECRET = "sk_live_Vb7Nm3Kq9Wx2Lp5Rt8Yz4Hc6Dj1Fg0Sa"
LIVE = "https://api.instantly.test/api/v2"


def recorded(status, name):
    return httpx.Response(status, text=(FIXTURES / f"{name}.json").read_text())


class Remote:
    def __init__(self, *steps):
        self.steps = list(steps)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step(request) if callable(step) else step


def offline(remote):
    """Overrides that keep a client off the network, the clock and the shared limiter."""
    return {
        "transport": httpx.MockTransport(remote),
        "sleep": lambda s: None,
        "limiter": MemoryRateLimiter(),
    }


@pytest.fixture
def key(workspace):
    return instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=SECRET, label="Main", base_url=LIVE
    )


def refused_connection(request):
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    ("answer", "status", "detail"),
    [
        (recorded(200, "orders_page_2"), KeyStatus.OK, ""),
        (
            recorded(401, "error_401"),
            KeyStatus.INVALID,
            "401 Unauthorized: Invalid API key",
        ),
        (
            recorded(403, "error_403"),
            KeyStatus.MISSING_SCOPE,
            "403 Forbidden: Forbidden",
        ),
        (
            recorded(402, "error_402"),
            KeyStatus.NO_PLAN,
            "402 Payment Required: Workspace does not have an active paid plan",
        ),
        (
            httpx.Response(503, text="down"),
            KeyStatus.UNREACHABLE,
            "503 Service Unavailable",
        ),
        (refused_connection, KeyStatus.UNREACHABLE, "could not connect (ConnectError)"),
        (
            recorded(404, "error_404"),
            KeyStatus.UNREACHABLE,
            "404 Not Found: Resource not found",
        ),
    ],
    ids=["ok", "invalid", "missing_scope", "no_plan", "5xx", "connect", "404"],
)
def test_verify_stores_each_outcome(workspace, key, answer, status, detail):
    remote = Remote(answer)

    result = instantly_keys.instantly_key_verify(workspace=workspace, **offline(remote))

    key.refresh_from_db()
    assert (key.status, key.status_detail) == (status, detail)
    assert key.last_verified_at is not None
    assert result.status == status
    assert remote.requests[0].url.path == "/api/v2/dfy-email-account-orders"
    assert remote.requests[0].headers["Authorization"] == f"Bearer {SECRET}"


def test_verify_recovers_a_key_from_a_previous_failure(workspace, key):
    instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(recorded(401, "error_401")))
    )

    instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(recorded(200, "orders_page_1")))
    )

    key.refresh_from_db()
    assert (key.status, key.status_detail) == (KeyStatus.OK, "")


def test_a_later_401_from_any_call_marks_the_key_invalid(workspace, key):
    instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(recorded(200, "orders_page_2")))
    )
    client = instantly_keys.instantly_client_for(
        workspace=workspace, **offline(Remote(recorded(401, "error_401")))
    )

    with client, pytest.raises(InstantlyAuthError):
        list(client.iter_accounts())

    key.refresh_from_db()
    assert key.status == KeyStatus.INVALID
    assert key.status_detail == "401 Unauthorized: Invalid API key"


@pytest.mark.parametrize(
    ("name", "code", "status"),
    [
        ("error_403", 403, KeyStatus.MISSING_SCOPE),
        ("error_402", 402, KeyStatus.NO_PLAN),
    ],
)
def test_scope_and_plan_errors_from_an_order_update_the_key(
    workspace, key, name, code, status
):
    client = instantly_keys.instantly_client_for(
        workspace=workspace, **offline(Remote(recorded(code, name)))
    )
    payload = {"order_type": "dfy", "items": [{"domain": "acme-mail.com"}]}

    with client, pytest.raises(InstantlyError, match=str(code)):
        client.place_order(payload)

    key.refresh_from_db()
    assert key.status == status


def test_other_failures_leave_the_key_status_alone(workspace, key):
    client = instantly_keys.instantly_client_for(
        workspace=workspace, **offline(Remote(httpx.Response(500)))
    )

    with client, pytest.raises(OutcomeUnknown):
        client.cancel_accounts(["ann@acme-air.com"])

    key.refresh_from_db()
    assert key.status == KeyStatus.UNVERIFIED


def test_a_401_for_a_replaced_key_does_not_mark_the_new_key(workspace, key):
    client = instantly_keys.instantly_client_for(
        workspace=workspace, **offline(Remote(recorded(401, "error_401")))
    )
    instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=SECRET[::-1], label="New", base_url=LIVE
    )

    with client, pytest.raises(InstantlyAuthError):
        client.verify()

    assert InstantlyKey.objects.get(workspace=workspace).status == KeyStatus.UNVERIFIED


def test_verification_of_a_replaced_key_is_dropped(workspace, key):
    def replace_then_answer(request):
        instantly_keys.instantly_key_save(
            workspace=workspace,
            by=None,
            secret=SECRET[::-1],
            label="New",
            base_url=LIVE,
        )
        return recorded(401, "error_401")

    result = instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(replace_then_answer))
    )

    assert result.status == KeyStatus.UNVERIFIED
    assert result.label == "New"


def test_client_factory_uses_the_key_settings_and_shared_limiter(
    workspace, key, settings, tmp_path
):
    from orders import ratelimit

    settings.INSTANTLY_TIMEOUT_SECONDS = 12
    settings.INSTANTLY_DEADLINE_SECONDS = 45
    settings.REDIS_URL = ""
    settings.VAR_DIR = tmp_path
    ratelimit._file_limiter.cache_clear()
    seen = []

    def answer(request):
        seen.append(request)
        return recorded(200, "orders_page_2")

    with instantly_keys.instantly_client_for(
        workspace=workspace, transport=httpx.MockTransport(answer)
    ) as client:
        client.verify()

    ratelimit._file_limiter.cache_clear()
    assert client.base_url == LIVE + "/"
    assert isinstance(client._limiter, FileRateLimiter)
    assert client._deadline_seconds == 45
    assert seen[0].extensions["timeout"] == {
        "connect": 5.0,
        "read": 12.0,
        "write": 12.0,
        "pool": 5.0,
    }
    assert SECRET not in client.limiter_bucket
    assert SECRET not in repr(client)
    assert [
        p.name for p in (tmp_path / "ratelimit").iterdir() if p.suffix == ".json"
    ] == [f"{client.limiter_bucket}.json"]


def test_client_factory_without_a_key_says_so(workspace):
    with pytest.raises(
        instantly_keys.InstantlyKeyMissing, match="no Instantly API key"
    ):
        instantly_keys.instantly_client_for(workspace=workspace)
    with pytest.raises(instantly_keys.InstantlyKeyMissing):
        instantly_keys.instantly_key_verify(workspace=workspace)


def test_undecryptable_key_is_stored_as_invalid(workspace, key):
    InstantlyKey.objects.filter(pk=key.pk).update(secret_encrypted="gAAAA-not-a-token")

    result = instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(recorded(200, "orders_page_2")))
    )

    assert result.status == KeyStatus.INVALID
    assert "save the key again" in result.status_detail


def test_verification_logs_never_hold_the_secret(workspace, key, caplog):
    caplog.set_level(logging.DEBUG)

    instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(recorded(401, "error_401")))
    )

    assert SECRET not in caplog.text


# --- Task -------------------------------------------------------------------------------------


def test_task_verifies_through_the_service(workspace, key, monkeypatch):
    calls = []
    monkeypatch.setattr(
        instantly_keys,
        "instantly_key_verify",
        lambda *, workspace: calls.append(workspace),
    )

    tasks.verify_key_task(workspace_id=workspace.pk)

    assert calls == [workspace]


def test_task_skips_missing_workspaces_and_keys(workspace):
    tasks.verify_key_task(workspace_id=workspace.pk + 1000)
    tasks.verify_key_task(workspace_id=WorkspaceFactory().pk)


def test_task_is_registered_under_its_name():
    assert tasks.verify_key_task.name == "orders.verify_key"


# --- Settings page ---------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, ws_admin):
    client.force_login(ws_admin)
    return client


def settings_url(workspace):
    return reverse("orders:settings", args=[workspace.slug])


def test_saving_a_key_enqueues_verification_after_commit(
    admin_client, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = task_capture.recorded(monkeypatch, "orders.verify_pending_key")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            settings_url(workspace),
            {
                "save_key": "1",
                "key-label": "Main",
                "key-secret": SECRET,
                "key-mode": "live",
            },
        )

    assert response.status_code == 302
    assert len(callbacks) == 1
    pending = PendingInstantlyKey.objects.get(workspace=workspace)
    assert enqueued == [{"pending_id": pending.pk}]
    assert not InstantlyKey.objects.filter(workspace=workspace).exists()


def test_verify_now_enqueues_verification(
    admin_client, workspace, key, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued = task_capture.recorded(monkeypatch, "orders.verify_key")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            settings_url(workspace), {"verify_key": "1"}, follow=True
        )

    assert enqueued == [{"workspace_id": workspace.pk}]
    assert "Verification started" in response.content.decode()


def test_verify_now_without_a_key_enqueues_nothing(
    admin_client, workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(settings_url(workspace), {"verify_key": "1"})

    assert response.status_code == 302
    assert callbacks == []


def test_operators_cannot_trigger_verification(
    client, operator, workspace, key, django_capture_on_commit_callbacks
):
    client.force_login(operator)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(settings_url(workspace), {"verify_key": "1"})

    assert response.status_code == 403
    assert callbacks == []


def test_settings_page_shows_the_status_and_never_the_secret(
    admin_client, workspace, key
):
    instantly_keys.instantly_key_verify(
        workspace=workspace, **offline(Remote(recorded(403, "error_403")))
    )

    html = admin_client.get(settings_url(workspace)).content.decode()

    assert "Key lacks the DFY order scopes" in html
    assert "403 Forbidden: Forbidden" in html
    assert 'name="verify_key"' in html
    assert f"····{SECRET[-4:]}" in html
    assert SECRET not in html
    assert SECRET[:-4] not in html
