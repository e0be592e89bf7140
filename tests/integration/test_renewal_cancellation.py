"""A cancellation scheduled before a renewal, end to end on PostgreSQL with a real Celery worker
on Redis and the sandbox served over real HTTP: placed by the worker, scheduled by one lead,
approved by another, and carried out by the beat task on the simulated day before the
renewal (the day is injected through the task's `now`, never waited for)."""

from __future__ import annotations

import time
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from typing import cast

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from orders import renewal_schedules, renewals, tasks, workflow
from orders.models import (
    CancellationRun,
    CancellationStatus,
    Mailbox,
    MailboxStatus,
    Membership,
    NotificationDelivery,
    Order,
    OrderStatus,
    ScheduledCancellation,
    ScheduleStatus,
)
from sandbox.models import DfyAccount
from tests.conftest import require_service
from tests.factories import MembershipFactory, UserFactory
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
        "set DATABASE_URL=postgres://...",
    )
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the worker's broker)",
    )


def wait_for(predicate, what: str, worker, timeout: float = 40) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    log = Path(worker.log_path).read_text()[-4000:]
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def test_an_approved_schedule_is_carried_out_the_day_before_the_renewal(
    live_server, workspace, operator, lead, settings, celery_worker_process
):
    sandbox = live_sandbox_remote(live_server, workspace, settings)
    order = submitted_order(
        workspace, operator, items=[("acme-mail.com", 1, [JANE, JOHN])]
    )
    with transaction.atomic():
        workflow.order_approve(order=order, by=lead)
    wait_for(
        lambda: Order.objects.get(pk=order.pk).status == OrderStatus.PLACED,
        "placed",
        celery_worker_process,
    )
    lead2 = cast(
        Membership,
        MembershipFactory(
            workspace=workspace, role="lead", user=UserFactory(username="lena")
        ),
    ).user
    settings.DFY_SCHEDULED_CANCEL_APPROVAL_OVER = 1
    order.refresh_from_db()

    made = renewal_schedules.renewal_cancel_schedule(
        order=order, by=lead, domains=["acme-mail.com"]
    )
    renewal_schedules.renewal_cancel_approve(schedule=made, by=lead2)
    assert made.renewal_on == renewals.next_renewal(timezone.localdate())
    # The beat of the day before, at 01:00: the simulated date goes with the messages.
    run_day = timezone.make_aware(datetime.combine(made.run_on, clock(1)))
    tasks.run_scheduled_cancellations_task.delay(now=run_day.isoformat())

    def reported() -> bool:
        return ScheduledCancellation.objects.filter(
            pk=made.pk, reported_at__isnull=False
        ).exists()

    wait_for(reported, "the schedule carried out", celery_worker_process)
    wait_until_idle(celery_worker_process)

    made.refresh_from_db()
    assert made.status == ScheduleStatus.EXECUTED
    assert made.approved_by == lead2
    run = CancellationRun.objects.get(order=order)
    assert run.status == CancellationStatus.DONE
    assert run.requested_by == lead2
    assert set(
        DfyAccount.objects.filter(
            workspace=sandbox, timestamp_cancelled__isnull=False
        ).values_list("email", flat=True)
    ) == {"jane@acme-mail.com", "john@acme-mail.com"}
    assert set(
        Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
    ) == {MailboxStatus.CANCELLED}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    kinds = list(
        order.events.filter(kind__startswith="renewal_").values_list("kind", flat=True)
    )
    assert kinds == [
        "renewal_cancel_scheduled",
        "renewal_cancel_approved",
        "renewal_cancel_executed",
    ]
    # The approvers were asked, and the requester told, by the worker.
    told = set(
        NotificationDelivery.objects.filter(order=order).values_list("event", flat=True)
    )
    assert {"renewal_cancel_approval", "renewal_cancel_executed"} <= told

    # Another beat the same day changes nothing: one cancel call in all.
    tasks.run_scheduled_cancellations_task.delay(now=run_day.isoformat())
    wait_until_idle(celery_worker_process)
    assert CancellationRun.objects.filter(order=order).count() == 1
