"""The fulfilment poll against the in-process sandbox: mailboxes requested → provisioning →
ready (passwords become non-empty after the sandbox's provisioning delay), orders placed →
provisioning → ready with timestamps, API calls per page (not per order), stuck flags."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from orders import fulfilment, instantly_keys, tasks, workflow
from orders.models import Mailbox, MailboxStatus, Order, OrderStatus, RemoteAccount
from sandbox.models import PreWarmedDomain
from sandbox.services import accounts_cancel
from sandbox.switches import switches_set
from tests.integration.support import JANE, JOHN, submitted_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def place(workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks):
    """Submit, approve and place an order through the real code path; returns it placed."""

    def placed(**kwargs):
        order = submitted_order(workspace, operator, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            workflow.order_approve(order=order, by=lead)
        queue.drain(django_capture_on_commit_callbacks)
        order.refresh_from_db()
        assert order.status == OrderStatus.PLACED
        return order

    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=120)
    return placed


def poll(workspace):
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        return fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)


def statuses(order):
    return sorted(
        Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
    )


def test_mailboxes_and_order_move_to_provisioning_then_ready(
    place, workspace, django_capture_on_commit_callbacks
):
    order = place()

    first = poll(workspace)
    order.refresh_from_db()
    provisioning = (order.status, order.provisioning_at is not None, statuses(order))
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=121), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        second = poll(workspace)

    order.refresh_from_db()
    mailbox = Mailbox.objects.filter(item__order=order).first()
    assert provisioning == (
        OrderStatus.PROVISIONING,
        True,
        ["provisioning", "provisioning"],
    )
    assert (first.api_calls, first.mailboxes_changed, first.orders_changed) == (2, 2, 1)
    assert order.status == OrderStatus.READY
    assert order.ready_at is not None
    assert order.finished_at == order.ready_at
    assert statuses(order) == ["ready", "ready"]
    assert mailbox.remote_id
    assert mailbox.provisioning_at < mailbox.ready_at
    assert second.orders_changed == 1
    assert list(order.events.values_list("kind", flat=True))[-2:] == [
        "provisioning",
        "ready",
    ]
    assert mail.outbox[-1].subject == "Ready: Q3"


def stored_cache_text() -> str:
    """Every value in the shared cache, as text (Redis in CI, files otherwise)."""
    import pickle
    import zlib

    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    backend = type(cache).__name__
    if isinstance(cache, RedisCache):  # dfyportal.cache's, or Django's own
        client = cache._cache.get_client(write=False)
        return "\n".join(
            client.get(key).decode("latin-1")
            for key in client.scan_iter()
            if client.type(key) == b"string"
        )
    assert backend == "FileBasedCache", backend
    values = []
    for path in cache._list_cache_files():
        with open(path, "rb") as file:
            # Our own test cache files, written by Django's FileBasedCache in this run.
            pickle.load(file)  # noqa: S301 - the expiry
            values.append(repr(pickle.loads(zlib.decompress(file.read()))))  # noqa: S301
    return "\n".join(values)


def test_passwords_are_never_stored(place, workspace, caplog):
    from django.core.management import call_command

    from sandbox.models import DfyAccount

    caplog.set_level(logging.DEBUG)
    order = place()

    with time_machine.travel(timezone.now() + timedelta(seconds=121), tick=False):
        poll(workspace)

    # The sandbox's own copies: the values the portal was sent with `with_passwords`.
    secrets = list(DfyAccount.objects.values_list("password", flat=True))
    assert len(secrets) == 2
    assert all(len(secret) >= 12 for secret in secrets)
    assert RemoteAccount.objects.filter(is_ready=True).count() == 2  # they were read
    dump = io.StringIO()
    # Every portal table: events, placement responses, mirror rows, notifications, ...
    call_command("dumpdata", "orders", stdout=dump)
    order.refresh_from_db()
    stored = {
        "the portal's tables": dump.getvalue(),
        "the placement response": order.placement_response,
        "the logs": caplog.text,
        "the cache": stored_cache_text(),
    }
    assert order.events.exists()
    assert order.placement_response
    for where, text in stored.items():
        for secret in secrets:
            assert secret not in text, f"a mailbox password is in {where}"


def test_api_calls_grow_with_pages_not_orders(place, workspace):
    for n in range(3):
        domains = [
            (
                f"brand{n}-{i}.com",
                1,
                [JANE, JOHN, ("Max", "Power", "max"), ("Ann", "Lee", "ann")],
            )
            for i in range(10)
        ]
        place(items=domains)  # 3 orders, 30 domains, 120 mailboxes

    result = poll(workspace)

    assert result.orders == 3
    assert (
        result.api_calls == 1 + 2
    )  # one page of 30 domains, two pages of 120 mailboxes
    assert Mailbox.objects.filter(status=MailboxStatus.PROVISIONING).count() == 120


def test_an_order_without_progress_is_flagged_stuck_once(
    place, workspace, settings, django_capture_on_commit_callbacks
):
    settings.DFY_STUCK_AFTER_HOURS = 72
    order = place()
    poll(workspace)  # provisioning: progress now, then nothing more

    with time_machine.travel(timezone.now() + timedelta(hours=71), tick=False):
        early = fulfilment.orders_flag_stuck()
    with (
        time_machine.travel(timezone.now() + timedelta(hours=73), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        late = workflow.orders_sweep()["stuck"]
        again = fulfilment.orders_flag_stuck()

    order.refresh_from_db()
    assert (early, late, again) == (0, 1, 0)
    assert order.stuck_at is not None
    assert order.events.filter(kind="stuck").count() == 1
    assert mail.outbox[-1].subject == "No progress: Q3"


def test_progress_clears_the_stuck_flag(place, workspace, settings):
    settings.DFY_STUCK_AFTER_HOURS = 1
    order = place()
    with time_machine.travel(timezone.now() + timedelta(minutes=61), tick=False):
        fulfilment.orders_flag_stuck()
        order.refresh_from_db()
        flagged = order.stuck_at is not None
        poll(workspace)

    order.refresh_from_db()
    assert flagged
    assert order.stuck_at is None
    assert order.status == OrderStatus.READY


def test_a_cancellation_made_at_instantly_shows_up(place, workspace, remote):
    order = place()
    accounts_cancel(
        workspace=remote.sandbox, emails=["jane@acme-mail.com", "john@acme-mail.com"]
    )

    poll(workspace)

    order.refresh_from_db()
    assert statuses(order) == ["cancelled", "cancelled"]
    assert order.status == OrderStatus.CANCELLED


def test_pre_warmed_mailboxes_are_learnt_from_instantly(place, workspace):
    PreWarmedDomain.objects.create(
        domain="warm-acme.com", account_type=1, mailbox_count=3
    )
    order = place(items=[("warm-acme.com", 1, [])], order_type="pre_warmed_up")

    poll(workspace)

    assert statuses(order) == ["provisioning"] * 3
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PROVISIONING


def test_nothing_in_flight_means_no_api_calls(workspace, remote):
    assert poll(workspace).api_calls == 0
    assert remote.requests() == 0


def test_the_beat_task_fans_out_per_workspace(
    place, workspace, queue, django_capture_on_commit_callbacks
):
    place()
    queue.sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_fulfilment_task()
    queue.drain(django_capture_on_commit_callbacks)

    assert Order.objects.get().status == OrderStatus.PROVISIONING
