"""The health poll against the in-process sandbox: a delivered order's mailboxes read from
Instantly's accounts list by pages (not one call per mailbox), live once set up and warming,
attention with one notice when the sandbox disconnects a mailbox, recovered when it is back;
the warmup score moving with the sandbox's clock; the beat task and the per-workspace task."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from orders import fulfilment, instantly_keys, mailbox_health, tasks
from orders.lifecycle import EventKind, OrderHealth
from orders.models import Mailbox, Order, OrderStatus
from sandbox.models import RequestLog
from sandbox.switches import account_health_clear, account_health_set
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db

# The cancellable fixture (tests/orders/conftest.py): placed at the sandbox, three mailboxes.
ADDRESSES = ["jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"]


def health_poll(workspace, capture):
    with (
        capture(execute=True),
        instantly_keys.instantly_client_for(workspace=workspace) as client,
    ):
        return mailbox_health.health_poll_workspace(workspace=workspace, client=client)


@pytest.fixture
def delivered(cancellable, workspace, django_capture_on_commit_callbacks):
    """The placed order made ready by the fulfilment poll, past the sandbox's provisioning
    delay (every test below runs on that clock)."""
    traveller = time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False)
    traveller.start()
    with (
        django_capture_on_commit_callbacks(execute=True),
        instantly_keys.instantly_client_for(workspace=workspace) as client,
    ):
        fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)
    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.READY
    mail.outbox.clear()
    yield cancellable
    traveller.stop()


def accounts_calls(remote) -> int:
    return RequestLog.objects.filter(
        workspace=remote.sandbox, path__endswith="v2/accounts"
    ).count()


def test_live_then_disconnected_once_then_recovered(
    delivered, workspace, remote, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks

    first = health_poll(workspace, capture)
    delivered.refresh_from_db()
    live = delivered.health
    account_health_set(
        workspace=remote.sandbox, emails=["john@acme-mail.com"], status=-1
    )
    second = health_poll(workspace, capture)
    third = health_poll(workspace, capture)
    delivered.refresh_from_db()
    attention = (delivered.health, len(mail.outbox))
    account_health_clear(workspace=remote.sandbox, emails=["john@acme-mail.com"])
    fourth = health_poll(workspace, capture)

    delivered.refresh_from_db()
    john = Mailbox.objects.get(email_prefix="john")
    assert live == OrderHealth.LIVE
    assert (first.orders, first.mailboxes_seen, first.mailboxes_changed) == (1, 3, 3)
    assert (first.api_calls, first.orders_changed) == (1, 1)
    assert (second.mailboxes_changed, second.orders_changed) == (1, 1)
    assert (third.mailboxes_changed, third.orders_changed) == (0, 0)
    assert attention == (OrderHealth.ATTENTION, 1)
    assert mail.outbox[0].subject == f"Mailbox trouble: {delivered}"
    assert (
        "1 of 3 mailboxes needs attention at Instantly: john@acme-mail.com "
        "(disconnected)." in mail.outbox[0].body
    )
    assert fourth.orders_changed == 1
    assert len(mail.outbox) == 1
    assert delivered.health == OrderHealth.LIVE
    # Health never moves the purchase: still ready, never re-submittable.
    assert delivered.status == OrderStatus.READY
    assert (john.health, john.account_status, john.warmup_status) == ("connected", 1, 1)
    assert list(
        delivered.events.filter(kind__startswith="health_").values_list(
            "kind", flat=True
        )
    ) == [
        EventKind.HEALTH_LIVE,
        EventKind.HEALTH_ATTENTION,
        EventKind.HEALTH_RECOVERED,
    ]
    assert accounts_calls(remote) == 4


def test_pages_not_calls_per_mailbox_and_stops_once_all_were_seen(
    delivered,
    workspace,
    operator,
    lead,
    remote,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from orders import workflow
    from tests.integration.support import JANE, TaskQueue, submitted_order

    # A later order, placed but not delivered: listed after the followed mailboxes.
    later = submitted_order(
        workspace, operator, items=[("later-acme.com", 1, [JANE])], title="Later"
    )
    queue = TaskQueue(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=later, by=lead)
    queue.drain(django_capture_on_commit_callbacks)
    monkeypatch.setattr(mailbox_health, "PAGE_SIZE", 1)
    before = accounts_calls(remote)

    result = health_poll(workspace, django_capture_on_commit_callbacks)

    # Three followed mailboxes, one a page: three calls, the later order's page never read.
    assert result.api_calls == 3
    assert accounts_calls(remote) - before == 3
    assert result.mailboxes_seen == 3


def test_a_mailbox_still_setting_up_keeps_the_order_setting_up(
    cancellable, workspace, remote, django_capture_on_commit_callbacks
):
    # Ready in the portal, but the sandbox has not finished the set-up (its clock is now).
    Mailbox.objects.filter(item__order=cancellable).update(status="ready")
    Order.objects.filter(pk=cancellable.pk).update(status=OrderStatus.READY)

    result = health_poll(workspace, django_capture_on_commit_callbacks)

    cancellable.refresh_from_db()
    assert result.mailboxes_seen == 3
    assert cancellable.health == OrderHealth.SETTING_UP
    assert set(
        Mailbox.objects.filter(item__order=cancellable).values_list("health", flat=True)
    ) == {"setup_pending"}
    assert not cancellable.events.filter(kind__startswith="health_").exists()


def test_the_warmup_score_follows_the_sandbox_clock(
    delivered, workspace, django_capture_on_commit_callbacks
):
    health_poll(workspace, django_capture_on_commit_callbacks)
    before = Mailbox.objects.get(email_prefix="john").warmup_score
    with time_machine.travel(timezone.now() + timedelta(days=3), tick=False):
        health_poll(workspace, django_capture_on_commit_callbacks)

    after = Mailbox.objects.get(email_prefix="john")
    assert before is not None
    assert after.warmup_score == before + 9  # 3 points a day (docs/instantly.md)
    assert after.daily_limit is not None


def test_nothing_delivered_costs_no_call(
    workspace, remote, django_capture_on_commit_callbacks
):
    result = health_poll(workspace, django_capture_on_commit_callbacks)

    assert result == mailbox_health.HealthPollResult(0, 0, 0, 0, 0)
    assert accounts_calls(remote) == 0


def test_a_poll_already_running_is_skipped(
    delivered, workspace, remote, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    cache.add(f"dfy:health:{workspace.pk}", "1", timeout=60)
    try:
        result = health_poll(workspace, django_capture_on_commit_callbacks)
    finally:
        cache.delete(f"dfy:health:{workspace.pk}")

    assert result.skipped
    assert result.api_calls == 0


def test_beat_sends_one_poll_per_workspace_with_delivered_orders(
    delivered,
    workspace,
    other_workspace,
    operator,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from tests.orders.history_data import make_order

    make_order(other_workspace, operator, status="provisioning")
    sent = recorded(monkeypatch, "orders.poll_workspace_health")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_health_task()

    assert sent == [{"workspace_id": workspace.pk}]


def test_the_workspace_task_polls_and_survives_a_missing_key(
    delivered, workspace, django_capture_on_commit_callbacks, caplog
):
    from orders.models import InstantlyKey

    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_workspace_health_task(workspace_id=workspace.pk)
    delivered.refresh_from_db()
    InstantlyKey.objects.filter(workspace=workspace).delete()
    tasks.poll_workspace_health_task(workspace_id=workspace.pk)
    tasks.poll_workspace_health_task(workspace_id=999_999)

    assert delivered.health == OrderHealth.LIVE
    assert "has no key" in caplog.text
