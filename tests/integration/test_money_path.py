"""The money path end to end on PostgreSQL, with a real Celery worker on Redis and the sandbox
served over real HTTP by the live server (the portal's client code path, unchanged).

Every case counts real order POSTs at the sandbox: exactly one per order, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders import instantly_keys, tasks, workflow
from orders.models import Mailbox, MailboxStatus, Order, OrderStatus, Quote
from sandbox.models import DomainOrder, RestrictedKeyword, real_order_posts
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_workspace_create
from sandbox.switches import switches_set
from tests.conftest import require_service
from tests.integration.support import (
    JANE,
    JOHN,
    TaskQueue,
    submitted_order,
    wait_until_idle,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]
HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _services() -> None:
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "set DATABASE_URL=postgres://... (concurrency needs row locks and real connections)",
    )
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the worker's broker)",
    )


@pytest.fixture
def remote(live_server, workspace, settings):  # type: ignore[no-untyped-def]
    """The workspace's key points at the live server's sandbox, over real HTTP; mailboxes
    are provisioned one second after the order."""
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    base_url = f"{live_server.url}/sandbox/api/v2"
    settings.INSTANTLY_SANDBOX_BASE_URL = base_url
    sandbox, key = sandbox_workspace_create(name=f"remote of {workspace.slug}")
    switches_set(workspace=sandbox, provisioning_delay_seconds=1)
    instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=key, label="Sandbox", base_url=base_url
    )
    return sandbox


def wait_for(predicate, what: str, worker=None, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    log = Path(worker.log_path).read_text() if worker is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{log[-4000:]}")


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


def approve(order: Order, lead) -> None:  # type: ignore[no-untyped-def]
    """Approve in its own transaction: placement is enqueued when it commits."""
    with transaction.atomic():
        workflow.order_approve(order=order, by=lead)


def test_draft_to_ready_end_to_end(
    live_server, remote, workspace, operator, lead, celery_worker_process
):
    operator_client, lead_client = Client(), Client()
    operator_client.force_login(operator)
    lead_client.force_login(lead)
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    order = Order.objects.get()
    build = {
        "version": "1",
        "order_type": "dfy",
        "title": "Q3",
        "item-0-domain": "acme-mail.com",
        "item-0-provider": "1",
        "item-0-forwarding": "",
    }
    for j, (first, last, prefix) in enumerate([JANE, JOHN]):
        build |= {
            f"item-0-mb-{j}-first": first,
            f"item-0-mb-{j}-last": last,
            f"item-0-mb-{j}-prefix": prefix,
        }
    operator_client.post(
        reverse("orders:build", args=[workspace.slug, order.pk]), build, headers=HX
    )
    quote = Quote.objects.get()
    order.refresh_from_db()
    operator_client.post(
        reverse("orders:submit", args=[workspace.slug, order.pk]),
        {"version": order.version, "fingerprint": quote.fingerprint},
    )
    assert status_of(order) == OrderStatus.PENDING_APPROVAL

    lead_client.post(
        reverse("orders:approve", args=[workspace.slug, order.pk]),
        {"quote": quote.pk, "comment": "go"},
    )
    wait_for(
        lambda: status_of(order) == OrderStatus.PLACED, "placed", celery_worker_process
    )
    time.sleep(1.1)  # the sandbox's provisioning delay
    # Beat's job, done by hand: the worker fans out one poll per workspace in flight.
    for _ in range(10):
        tasks.poll_fulfilment_task.delay()
        with contextlib.suppress(AssertionError):
            wait_for(lambda: status_of(order) == OrderStatus.READY, "ready", timeout=3)
            break
    assert status_of(order) == OrderStatus.READY, Path(
        celery_worker_process.log_path
    ).read_text()[-4000:]

    order.refresh_from_db()
    assert real_order_posts(remote) == 1
    assert order.approver == lead
    assert order.decided_at <= order.placed_at <= order.ready_at
    assert order.provisioning_at is not None
    assert set(
        Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
    ) == {MailboxStatus.READY}
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds[:6] == [
        "created",
        "submitted",
        "approved",
        "claimed",
        "place_request",
        "placed",
    ]
    assert kinds[-1] == "ready"
    progress = lead_client.get(
        reverse("orders:progress", args=[workspace.slug, order.pk]),
        {"status": "ready"},
        headers=HX,
    )
    assert progress.status_code == 286


def test_fifty_concurrent_approvals_and_submissions_post_once(
    live_server, remote, workspace, operator, lead, ws_admin, celery_worker_process
):
    order = submitted_order(workspace, operator)
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def attempt(n: int) -> None:
        try:
            barrier.wait()
            # All but one find the order already decided.
            with contextlib.suppress(workflow.WorkflowError):
                approve(Order.objects.get(pk=order.pk), lead if n % 2 else ws_admin)
            workflow.order_place(order=Order.objects.get(pk=order.pk))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    wait_for(lambda: status_of(order) == OrderStatus.PLACED, "placed")
    # The approval's placement message may still be queued or running: wait until the
    # worker has handled everything, then check that nothing posted a second time.
    wait_until_idle(celery_worker_process)
    assert real_order_posts(remote) == 1
    assert order.events.filter(kind="approved").count() == 1
    assert order.events.filter(kind="claimed").count() == 1
    assert DomainOrder.objects.filter(workspace=remote).count() == 1


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_worker_killed_after_the_post_is_reconciled_to_placed(
    live_server, remote, workspace, operator, lead, settings, celery_worker_process
):
    # The sandbox records the order, then holds its answer: the worker is inside the POST.
    switches_set(
        workspace=remote, timeout_after_record=True, timeout_after_record_seconds=4
    )
    order = submitted_order(workspace, operator)
    approve(order, lead)
    wait_for(
        lambda: real_order_posts(remote) == 1, "the real POST", celery_worker_process
    )

    killed = _children(celery_worker_process.pid)
    for child in killed:
        os.kill(child, signal.SIGKILL)
    wait_for(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in killed),
        "the killed worker processes gone",
        celery_worker_process,
    )
    # The lost message is requeued (reject on worker lost); its re-run finds the claim taken.
    wait_until_idle(celery_worker_process)
    assert status_of(order) == OrderStatus.SUBMITTING
    assert real_order_posts(remote) == 1
    settings.DFY_SUBMITTING_STALE_SECONDS = 0
    queue_settle = workflow.orders_sweep()
    workflow.order_reconcile(order=Order.objects.get(pk=order.pk))

    wait_for(lambda: status_of(order) == OrderStatus.PLACED, "placed")
    assert queue_settle["stranded"] == 1
    assert real_order_posts(remote) == 1
    assert "stranded" in order.events.values_list("kind", flat=True)
    time.sleep(4)  # let the held answer finish before the database is flushed


def test_post_timing_out_after_the_record_is_unknown_then_placed(
    live_server, remote, workspace, operator, lead, settings, monkeypatch
):
    TaskQueue(monkeypatch)  # no worker here: keep messages off the broker
    settings.INSTANTLY_TIMEOUT_SECONDS = 0.5
    switches_set(
        workspace=remote, timeout_after_record=True, timeout_after_record_seconds=1.5
    )
    order = submitted_order(workspace, operator)
    approve(order, lead)

    unknown = workflow.order_place(order=Order.objects.get(pk=order.pk))
    placed = workflow.order_reconcile(order=unknown)

    assert unknown.status == OrderStatus.UNKNOWN
    assert placed.status == OrderStatus.PLACED
    assert placed.reconcile_evidence["found"] == ["acme-mail.com"]
    assert real_order_posts(remote) == 1
    time.sleep(1.5)


def test_timeout_without_record_needs_attention_after_a_day_of_sweeps(
    live_server, remote, workspace, operator, lead, monkeypatch
):
    queue = TaskQueue(monkeypatch)
    switches_set(
        workspace=remote, timeout_without_record=True, timeout_after_record_seconds=0
    )
    order = submitted_order(workspace, operator)
    approve(order, lead)
    queue.run_all()
    assert status_of(order) == OrderStatus.UNKNOWN

    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(6 * 24):
            clock.shift(timedelta(minutes=10))
            workflow.orders_sweep()
            queue.run_all()

    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert 1 < order.reconcile_checks <= workflow.reconcile_max_checks()
    assert real_order_posts(remote) == 1
    assert not DomainOrder.objects.exists()


def test_the_same_task_delivered_twice_posts_once(
    live_server, remote, workspace, operator, lead, celery_worker_process
):
    order = submitted_order(workspace, operator)
    approve(order, lead)
    tasks.place_order_task.delay(order_id=order.pk)
    tasks.place_order_task.delay(order_id=order.pk)

    log = Path(celery_worker_process.log_path)
    wait_for(
        lambda: log.read_text().count("orders.place_order") >= 6,
        "three deliveries handled",
        celery_worker_process,
    )
    wait_for(lambda: status_of(order) == OrderStatus.PLACED, "placed")
    wait_until_idle(celery_worker_process)
    assert real_order_posts(remote) == 1
    assert order.events.filter(kind="claimed").count() == 1


def test_price_drift_posts_nothing_and_asks_for_reapproval(
    live_server, remote, workspace, operator, lead, celery_worker_process
):
    order = submitted_order(workspace, operator)

    with transaction.atomic():
        workflow.order_approve(order=order, by=lead)
        # Committed with the approval: the worker re-quotes at the new price.
        switches_set(workspace=remote, google_price_per_month=Decimal("7"))
    wait_for(
        lambda: status_of(order) == OrderStatus.NEEDS_REAPPROVAL,
        "needs_reapproval",
        celery_worker_process,
    )

    wait_until_idle(celery_worker_process)
    order.refresh_from_db()
    assert real_order_posts(remote) == 0
    assert order.drift["due_now"] == ["25.00", "29.00"]
    assert order.approved_quote.due_now == Decimal("29.00")
