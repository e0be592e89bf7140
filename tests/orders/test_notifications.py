"""Notifications: email to the approvers when a request waits and to the requester when it
moves on; the workspace webhook gets the same events as JSON, never a secret, and its
failures are logged, not raised."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import pytest
from django.core import mail

from orders import notifications, webhooks, workflow
from orders.models import OrderStatus
from tests.factories import MembershipFactory, UserFactory
from tests.integration.support import TaskQueue, submitted_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(monkeypatch, workspace):
    """The workspace's webhook, answered by an httpx.MockTransport that keeps every request."""
    received: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    workspace.webhook_url = "https://hooks.example.test/dfy?token=abc"
    workspace.save()
    webhooks.webhook_secret_rotate(workspace=workspace)
    monkeypatch.setattr(notifications, "webhook_transport", httpx.MockTransport(answer))
    monkeypatch.setattr(notifications, "webhook_resolver", public_resolver)
    return received


def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


def test_a_waiting_request_emails_the_approvers_and_posts_the_webhook(
    workspace,
    operator,
    lead,
    ws_admin,
    remote,
    hook,
    django_capture_on_commit_callbacks,
):
    MembershipFactory(
        workspace=workspace,
        role="lead",
        user=UserFactory(username="lowlimit"),
        approval_limit=Decimal("1"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        order = submitted_order(workspace, operator)

    body = json.loads(hook[0].content)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ada@example.test",
        "leo@example.test",
    ]
    assert all(len(m.to) == 1 for m in mail.outbox)
    assert f"http://127.0.0.1:8000/w/acme/orders/{order.pk}/" in mail.outbox[0].body
    assert hook[0].headers["content-type"] == "application/json"
    assert body["event"] == "order.approval_requested"
    assert body["order"]["id"] == order.pk
    assert body["order"]["due_now"] == "25.00"
    assert body["workspace"] == {"slug": "acme", "name": "Acme"}
    assert remote.key not in hook[0].content.decode()
    assert "placement_response" not in body["order"]


def test_the_requester_hears_about_each_step(
    workspace,
    operator,
    lead,
    remote,
    hook,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    queue = TaskQueue(monkeypatch)
    order = submitted_order(workspace, operator)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead, comment="go")
    queue.drain(django_capture_on_commit_callbacks)

    assert [m.subject for m in mail.outbox] == ["Approved: Q3", "Placed: Q3"]
    assert [m.to for m in mail.outbox] == [["olivia@example.test"]] * 2
    assert [json.loads(r.content)["event"] for r in hook] == [
        "order.approved",
        "order.placed",
    ]


@pytest.mark.parametrize(
    ("event", "subject"),
    [
        ("rejected", "Rejected: Q3"),
        ("failed", "Refused by Instantly: Q3"),
        ("ready", "Ready: Q3"),
        ("stuck", "No progress: Q3"),
        ("needs_attention", "Needs attention: Q3"),
    ],
)
def test_each_requester_event_has_its_email(
    workspace, operator, remote, event, subject
):
    order = submitted_order(workspace, operator)
    mail.outbox.clear()

    notifications.notification_deliver(
        order_id=order.pk,
        event=event,
        event_id="6d1f7a3e-0c55-4a4e-9f7e-1b2c3d4e5f60",
        channel="email",
        final=True,
    )

    assert [(m.subject, m.to) for m in mail.outbox] == [
        (subject, ["olivia@example.test"])
    ]


def test_nobody_able_means_the_admins_are_asked(
    workspace, operator, ws_admin, remote, django_capture_on_commit_callbacks
):
    ws_admin.memberships.update(approval_limit=Decimal("1"))

    with django_capture_on_commit_callbacks(execute=True):
        submitted_order(workspace, operator)

    assert [m.to for m in mail.outbox] == [["ada@example.test"]]


def test_a_failing_webhook_is_logged_not_raised(
    workspace,
    operator,
    lead,
    remote,
    monkeypatch,
    caplog,
    django_capture_on_commit_callbacks,
):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    workspace.webhook_url = "https://hooks.example.test/dfy"
    workspace.save()
    webhooks.webhook_secret_rotate(workspace=workspace)
    monkeypatch.setattr(notifications, "webhook_transport", httpx.MockTransport(refuse))
    monkeypatch.setattr(notifications, "webhook_resolver", public_resolver)

    with (
        caplog.at_level(logging.WARNING),
        django_capture_on_commit_callbacks(execute=True),
    ):
        order = submitted_order(workspace, operator)

    assert order.status == OrderStatus.PENDING_APPROVAL
    assert len(mail.outbox) == 1
    assert "webhook for order" in caplog.text
    assert "hooks.example.test" not in caplog.text


def test_notifications_wait_for_the_commit(
    workspace, operator, lead, remote, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        submitted_order(workspace, operator)

    assert mail.outbox == []
    assert len(callbacks) == 2  # the email and the webhook: separate deliveries


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.example.com/dfy", True),
        ("http://hooks.example.com/dfy", False),
        ("https://localhost/dfy", False),
        ("https://127.0.0.1/dfy", False),
        ("https://10.1.2.3/dfy", False),
        ("https://[::1]/dfy", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("https://printer.local/hook", False),
        ("https://8.8.8.8/hook", True),
    ],
)
def test_webhook_urls_must_be_public_https(url, allowed):
    from orders.notifications import webhook_url_problem

    assert (webhook_url_problem(url) is None) is allowed


def test_workspace_settings_refuse_a_private_webhook_with_the_field_named(
    client, workspace, ws_admin
):
    from django.urls import reverse

    client.force_login(ws_admin)

    response = client.post(
        reverse("orders:settings", args=[workspace.slug]),
        {"ws-approval_policy": "always", "ws-webhook_url": "https://192.168.0.10/hook"},
    )

    workspace.refresh_from_db()
    assert "must not point to a private" in response.content.decode()
    assert workspace.webhook_url == ""
