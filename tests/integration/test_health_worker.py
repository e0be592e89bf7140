"""Mailbox health after delivery with a real Celery worker on Redis and the sandbox over real
HTTP (PostgreSQL): an order placed and made ready by the worker becomes live at the next
health poll; a mailbox the sandbox disconnects puts it in attention with exactly one
notification, a further poll sends none; the mailbox back makes it recovered. Beat's runs are
sent by hand; the sandbox's clock is moved with time_machine (it runs in this process's live
server), never slept."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from orders import tasks, workflow
from orders.lifecycle import EventKind, OrderHealth
from orders.models import NotificationDelivery, Order, OrderStatus
from sandbox.switches import account_health_clear, account_health_set
from tests.conftest import require_service
from tests.integration.support import (
    JANE,
    JOHN,
    live_sandbox_remote,
    submitted_order,
    wait_until_idle,
)

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
        "set DATABASE_URL=postgres://... (the worker and the test share the database)",
    )
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the worker's broker)",
    )


@pytest.fixture
def mail_dir(monkeypatch, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """Read by the worker when it starts: mail written as files to this test's folder."""
    monkeypatch.setenv(
        "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
    )
    monkeypatch.setenv("DJANGO_EMAIL_FILE_PATH", str(tmp_path / "mail"))
    return tmp_path / "mail"


def wait_for(predicate, what: str, worker, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}\n{Path(worker.log_path).read_text()[-4000:]}"
    )


def field(order: Order, name: str) -> str:
    return Order.objects.values_list(name, flat=True).get(pk=order.pk)


def trouble_mails(mail_dir: Path) -> int:
    if not mail_dir.exists():
        return 0
    return sum(
        p.read_text().count("Subject: Mailbox trouble") for p in mail_dir.iterdir()
    )


@pytest.mark.timeout(180)
def test_ready_live_attention_once_recovered(
    mail_dir, live_server, workspace, operator, lead, settings, celery_worker_process
):
    worker = celery_worker_process
    sandbox = live_sandbox_remote(live_server, workspace, settings)
    order = submitted_order(
        workspace, operator, items=[("acme-mail.com", 1, [JANE, JOHN])], title="Q3"
    )
    with transaction.atomic():
        workflow.order_approve(order=order, by=lead)
    wait_for(lambda: field(order, "status") == OrderStatus.PLACED, "placed", worker)

    # The sandbox (this process's live server) is five minutes on: provisioned, set up.
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=True):
        tasks.poll_fulfilment_task.delay()
        wait_for(lambda: field(order, "status") == OrderStatus.READY, "ready", worker)

        tasks.poll_health_task.delay()
        wait_for(lambda: field(order, "health") == OrderHealth.LIVE, "live", worker)

        account_health_set(workspace=sandbox, emails=["john@acme-mail.com"], status=-1)
        tasks.poll_health_task.delay()
        wait_for(
            lambda: field(order, "health") == OrderHealth.ATTENTION, "attention", worker
        )
        wait_until_idle(worker)
        told = trouble_mails(mail_dir)

        # Still broken at the next poll: nobody is told again.
        tasks.poll_health_task.delay()
        wait_until_idle(worker)
        again = trouble_mails(mail_dir)

        account_health_clear(workspace=sandbox, emails=["john@acme-mail.com"])
        tasks.poll_health_task.delay()
        wait_for(
            lambda: field(order, "health") == OrderHealth.LIVE, "recovered", worker
        )
        wait_until_idle(worker)

    order.refresh_from_db()
    assert (told, again) == (1, 1)
    assert list(
        NotificationDelivery.objects.filter(
            order=order, event="mailbox_attention", channel="email"
        ).values_list("status", flat=True)
    ) == ["delivered"]
    assert list(
        order.events.filter(kind__startswith="health_").values_list("kind", flat=True)
    ) == [
        EventKind.HEALTH_LIVE,
        EventKind.HEALTH_ATTENTION,
        EventKind.HEALTH_RECOVERED,
    ]
    assert order.status == OrderStatus.READY
    assert order.health_checked_at is not None
