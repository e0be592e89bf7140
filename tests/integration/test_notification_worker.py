"""Notifications through the real broker and a real Celery worker: the transition's commit
enqueues one message per channel; the worker delivers them separately, retries the webhook
with backoff and records every attempt, and never sends the email twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction

from orders import lifecycle, webhooks
from orders.models import DeliveryStatus, NotificationDelivery, Order
from tests.conftest import require_service
from tests.factories import OrderFactory

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]


@pytest.fixture(autouse=True)
def _services() -> None:
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "set DATABASE_URL=postgres://...",
    )
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the worker's broker)",
    )


@pytest.fixture
def fast_retries(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """Read by the worker when it starts: three attempts, about a second apart, and mail
    written as files to a folder of this test's own."""
    monkeypatch.setenv("DFY_NOTIFICATION_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("DFY_NOTIFICATION_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv(
        "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
    )
    monkeypatch.setenv("DJANGO_EMAIL_FILE_PATH", str(tmp_path / "mail"))
    return tmp_path / "mail"


def test_the_worker_delivers_each_channel_and_retries_only_the_webhook(
    fast_retries, workspace, operator, celery_worker_process
):
    # A name that does not resolve: the worker may not post anywhere, and must retry.
    workspace.webhook_url = "https://hooks.example.test/dfy"
    workspace.save()
    webhooks.webhook_secret_rotate(workspace=workspace)
    order = cast(
        Order, OrderFactory(workspace=workspace, requester=operator, title="Q4")
    )

    with transaction.atomic():
        lifecycle.order_notify(order_id=order.pk, notice="placed")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = list(
            NotificationDelivery.objects.filter(channel="webhook")
            .order_by("attempt")
            .values_list("status", flat=True)
        )
        if DeliveryStatus.FAILED in statuses:
            break
        time.sleep(0.2)
    log = Path(celery_worker_process.log_path).read_text()
    rows = list(NotificationDelivery.objects.order_by("channel", "attempt"))
    assert [(d.channel, d.attempt, d.status) for d in rows] == [
        ("email", 1, DeliveryStatus.DELIVERED),
        ("webhook", 1, DeliveryStatus.RETRYING),
        ("webhook", 2, DeliveryStatus.RETRYING),
        ("webhook", 3, DeliveryStatus.FAILED),
    ], log[-4000:]
    assert {d.event_id for d in rows} == {rows[0].event_id}
    assert all("could not be resolved" in d.error for d in rows[1:])
    mails = (
        [p.read_text() for p in fast_retries.glob("*.log")]
        if fast_retries.exists()
        else []
    )
    assert sum(m.count("Subject: Placed: Q4") for m in mails) == 1
