"""A pasted key is verified before it replaces the working one (issue #10, item 12): through
the settings page, the in-process sandbox as Instantly (401 for a key it does not know) and
the verification task called as the worker would."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders import instantly_keys, tasks
from orders.models import (
    InstantlyKey,
    KeyStatus,
    Order,
    PendingInstantlyKey,
    PendingKeyStatus,
)
from orders.ratelimit import MemoryRateLimiter
from sandbox.services import sandbox_workspace_create
from tests.orders.test_builder_views import HX, JANE, build_url, form_state
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db

FAKE = "sk_fake_Q7wE9rT2yU4iO6pA8sD0"
SANDBOX_URL = "http://testserver/sandbox/api/v2"


@pytest.fixture(autouse=True)
def sandbox_mode(settings):
    # "Sandbox" in the key form means the in-process sandbox of these tests.
    settings.INSTANTLY_SANDBOX_BASE_URL = SANDBOX_URL


@pytest.fixture
def admin_client(ws_admin):
    client = Client()
    client.force_login(ws_admin)
    return client


@pytest.fixture
def operator_client(operator):
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def enqueued(monkeypatch):
    return recorded(monkeypatch, "orders.verify_pending_key")


@pytest.fixture
def draft(operator_client, workspace):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    return Order.objects.get()


def settings_url(workspace):
    return reverse("orders:settings", args=[workspace.slug])


def paste(admin_client, workspace, secret, capture, *, htmx=False, mode="sandbox"):
    with capture(execute=True):
        return admin_client.post(
            settings_url(workspace),
            {
                "save_key": "1",
                "key-label": "New",
                "key-secret": secret,
                "key-mode": mode,
            },
            headers=HX if htmx else {},
            follow=not htmx,
        )


def run_worker(enqueued):
    """What the worker does with the enqueued verification."""
    while enqueued:
        tasks.verify_pending_key_task(**enqueued.pop(0))


def quote(operator_client, draft, domain):
    draft.refresh_from_db()
    return operator_client.post(
        build_url(draft), form_state(draft, items=[(domain, 1, [JANE])]), headers=HX
    ).content.decode()


def test_fake_key_is_refused_and_the_working_key_keeps_quoting(
    admin_client,
    operator_client,
    workspace,
    remote,
    draft,
    enqueued,
    django_capture_on_commit_callbacks,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    instantly_keys.instantly_key_verify(workspace=workspace)
    working = InstantlyKey.objects.get(workspace=workspace)
    assert working.status == KeyStatus.OK

    page = paste(
        admin_client, workspace, FAKE, django_capture_on_commit_callbacks
    ).content.decode()

    # Pending: the page polls, the old key is still the one in use and still quotes.
    assert f"Verifying the new key <code>····{FAKE[-4:]}</code>" in page
    assert reverse("orders:key_check", args=[workspace.slug]) in page
    assert 'hx-trigger="every 1s"' in page
    assert f"The key <code>{working.masked}</code> stays in use" in page
    assert FAKE not in page
    assert FAKE[:-4] not in page
    before = remote.requests()
    assert "$20.00" in quote(operator_client, draft, "acme-mail.com")
    assert remote.requests() > before

    run_worker(enqueued)

    poll = admin_client.get(
        reverse("orders:key_check", args=[workspace.slug]), headers=HX
    )
    html = poll.content.decode()
    assert poll.status_code == 286
    assert "<html" not in html
    assert f"The new key <code>····{FAKE[-4:]}</code> was refused" in html
    assert "Invalid or revoked key" in html
    assert f"the key <code>{working.masked}</code> is still in use" in html
    assert "hx-trigger" not in html
    pending = PendingInstantlyKey.objects.get(workspace=workspace)
    assert (pending.status, pending.outcome) == (
        PendingKeyStatus.REFUSED,
        KeyStatus.INVALID,
    )
    assert pending.secret_encrypted == ""
    key = InstantlyKey.objects.get(workspace=workspace)
    assert (key.reveal(), key.status) == (remote.key, KeyStatus.OK)
    assert "$20.00" in quote(operator_client, draft, "acme-post.com")
    assert FAKE not in caplog.text


def test_good_key_replaces_the_working_one_once_verified(
    admin_client,
    operator_client,
    workspace,
    remote,
    draft,
    enqueued,
    django_capture_on_commit_callbacks,
):
    other_sandbox, new_secret = sandbox_workspace_create(name="second account")

    response = paste(
        admin_client,
        workspace,
        new_secret,
        django_capture_on_commit_callbacks,
        htmx=True,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="instantly-key"' in html
    assert f"Verifying the new key <code>····{new_secret[-4:]}</code>" in html
    assert InstantlyKey.objects.get(workspace=workspace).reveal() == remote.key
    assert new_secret not in html

    run_worker(enqueued)

    poll = admin_client.get(
        reverse("orders:key_check", args=[workspace.slug]), headers=HX
    )
    key = InstantlyKey.objects.get(workspace=workspace)
    assert poll.status_code == 286
    assert "was accepted and is now in use" in poll.content.decode()
    assert f"<code>····{new_secret[-4:]}</code>" in poll.content.decode()
    assert (key.reveal(), key.status, key.label) == (new_secret, KeyStatus.OK, "New")
    assert key.last_verified_at is not None
    assert PendingInstantlyKey.objects.get().secret_encrypted == ""
    old_requests = remote.requests()
    assert "$20.00" in quote(operator_client, draft, "acme-mail.com")
    # The quote went to the account of the new key, none to the old one.
    assert remote.requests() == old_requests
    from sandbox.models import RequestLog

    # The new key's verification (a read of the orders list) and the quote's simulation.
    assert sorted(
        RequestLog.objects.filter(workspace=other_sandbox).values_list("method", "path")
    ) == [
        ("GET", "/sandbox/api/v2/dfy-email-account-orders"),
        ("POST", "/sandbox/api/v2/dfy-email-account-orders"),
    ]
    assert RequestLog.objects.real_orders().count() == 0


def test_first_key_is_verified_before_any_quote_uses_it(
    admin_client,
    operator_client,
    workspace,
    remote,
    draft,
    enqueued,
    django_capture_on_commit_callbacks,
):
    InstantlyKey.objects.filter(workspace=workspace).delete()

    page = paste(
        admin_client, workspace, remote.key, django_capture_on_commit_callbacks
    ).content.decode()

    assert "No key in use yet" in page
    assert "Quotes wait until this key is accepted." in page
    assert "is still being verified" in quote(operator_client, draft, "acme-mail.com")
    assert remote.requests() == 0

    run_worker(enqueued)

    assert InstantlyKey.objects.get(workspace=workspace).status == KeyStatus.OK
    assert "$20.00" in quote(operator_client, draft, "acme-post.com")


def test_a_newer_paste_supersedes_a_verification_in_flight(
    admin_client, workspace, remote, enqueued, django_capture_on_commit_callbacks
):
    paste(admin_client, workspace, FAKE, django_capture_on_commit_callbacks)
    first = enqueued.pop(0)
    paste(admin_client, workspace, remote.key[::-1], django_capture_on_commit_callbacks)

    assert instantly_keys.instantly_key_verify_pending(**first) is None
    assert PendingInstantlyKey.objects.get().status == PendingKeyStatus.VERIFYING
    run_worker(enqueued)
    assert PendingInstantlyKey.objects.get().status == PendingKeyStatus.REFUSED
    # A redelivered message for a finished attempt does nothing.
    assert (
        instantly_keys.instantly_key_verify_pending(pending_id=first["pending_id"])
        is None
    )
    assert InstantlyKey.objects.get(workspace=workspace).reveal() == remote.key


def test_key_form_defaults_to_the_current_mode_and_hides_the_secret(
    admin_client, workspace
):
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret="sk_live_Vb7Nm3Kq9Wx2Lp5Rt8Yz",
        label="Main",
        base_url="https://api.instantly.test/api/v2",
    )

    html = admin_client.get(settings_url(workspace)).content.decode()

    assert 'type="password" name="key-secret"' in html
    assert "Shown once" not in html
    assert "Stored encrypted; only the last 4 characters are shown." in html
    assert 'value="live" required id="id_key-mode_1" checked' in html
    assert 'value="sandbox" required id="id_key-mode_0" checked' not in html


def test_sandbox_key_defaults_to_sandbox_mode(admin_client, workspace, remote):
    html = admin_client.get(settings_url(workspace)).content.decode()

    assert 'value="sandbox" required id="id_key-mode_0" checked' in html


def test_key_check_is_for_admins_only(operator_client, workspace):
    response = operator_client.get(reverse("orders:key_check", args=[workspace.slug]))

    assert response.status_code == 403


def test_plain_reload_shows_the_state_without_javascript(
    admin_client, workspace, remote, enqueued, django_capture_on_commit_callbacks
):
    paste(admin_client, workspace, FAKE, django_capture_on_commit_callbacks)
    run_worker(enqueued)

    html = admin_client.get(settings_url(workspace)).content.decode()

    assert f"The new key <code>····{FAKE[-4:]}</code> was refused" in html
    assert 'hx-trigger="every 1s"' not in html


@pytest.mark.parametrize(
    ("answer", "outcome", "detail"),
    [
        (
            httpx.Response(403, json={"message": "Forbidden"}),
            KeyStatus.MISSING_SCOPE,
            "403",
        ),
        (
            httpx.Response(402, json={"message": "no plan"}),
            KeyStatus.NO_PLAN,
            "402",
        ),
        (httpx.Response(503, text="down"), KeyStatus.UNREACHABLE, "503"),
    ],
    ids=["missing_scope", "no_plan", "unreachable"],
)
def test_any_answer_but_ok_refuses_the_pending_key_and_keeps_the_active_one(
    workspace, answer, outcome, detail
):
    active = instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret="sk_live_active_key_0001",
        label="Main",
        base_url="https://api.instantly.test/api/v2",
    )
    pending = instantly_keys.instantly_key_propose(
        workspace=workspace,
        by=None,
        secret=FAKE,
        label="New",
        base_url="https://api.instantly.test/api/v2",
    )

    result = instantly_keys.instantly_key_verify_pending(
        pending_id=pending.pk,
        transport=httpx.MockTransport(lambda request: answer),
        sleep=lambda s: None,
        limiter=MemoryRateLimiter(),
        deadline_seconds=1,
    )

    assert result is not None
    assert (result.status, result.outcome) == (PendingKeyStatus.REFUSED, outcome)
    assert detail in result.status_detail
    assert result.secret_encrypted == ""
    key = InstantlyKey.objects.get(workspace=workspace)
    assert (key.reveal(), key.status, key.updated_at) == (
        "sk_live_active_key_0001",
        KeyStatus.UNVERIFIED,
        active.updated_at,
    )


def test_a_typo_over_htmx_names_the_field_and_stores_nothing(
    admin_client, workspace, enqueued, django_capture_on_commit_callbacks
):
    response = paste(
        admin_client,
        workspace,
        "abc def ghi jkl",
        django_capture_on_commit_callbacks,
        htmx=True,
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "An API key has no spaces" in html
    assert 'value="New"' in html  # the label typed is kept
    assert not PendingInstantlyKey.objects.exists()
    assert enqueued == []


def test_a_slow_verification_says_the_worker_may_be_busy(
    admin_client, workspace, remote, enqueued, django_capture_on_commit_callbacks
):
    paste(admin_client, workspace, FAKE, django_capture_on_commit_callbacks)
    PendingInstantlyKey.objects.update(created_at=timezone.now() - timedelta(minutes=3))

    poll = admin_client.get(
        reverse("orders:key_check", args=[workspace.slug]), headers=HX
    )

    assert poll.status_code == 200  # still polling
    assert "the background worker may be busy or stopped" in poll.content.decode()
    assert 'hx-trigger="every 1s"' in poll.content.decode()
