"""Tasks whose row is gone, or whose workspace has no Instantly key, finish quietly: raising
would only retry them until they give up, and a lost refresh must not leave a panel spinning.
The task functions are called directly (in this process), never in eager mode. Also the
options each task is registered with (orders_task in orders/tasks.py), pinned."""

from __future__ import annotations

import logging

import pytest

from orders import mirror, tasks

pytestmark = pytest.mark.django_db

GONE = 987_654


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [
        (tasks.check_domains_task, {"check_id": GONE}),
        (tasks.refresh_remote_mirror_task, {"workspace_id": GONE}),
        (tasks.poll_workspace_task, {"workspace_id": GONE}),
        (tasks.place_order_task, {"order_id": GONE}),
        (tasks.cancel_mailboxes_task, {"run_id": GONE}),
        (tasks.reconcile_order_task, {"order_id": GONE}),
        (tasks.reconcile_order_now_task, {"order_id": GONE}),
        (tasks.verify_key_task, {"workspace_id": GONE}),
    ],
)
def test_a_task_for_a_deleted_row_does_nothing(task, kwargs) -> None:
    assert task(**kwargs) is None


def test_place_order_for_a_deleted_order_says_so_in_the_log(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="orders.tasks"):
        tasks.place_order_task(order_id=GONE)
    assert f"place_order: order {GONE} is gone" in caplog.text


def test_a_refresh_without_a_key_stops_the_panel_waiting(workspace, caplog) -> None:
    mirror.refresh_requested(workspace=workspace)
    assert mirror.refresh_state(workspace=workspace).running

    with caplog.at_level(logging.INFO, logger="orders.mirror"):
        tasks.refresh_remote_mirror_task(workspace_id=workspace.pk)

    state = mirror.refresh_state(workspace=workspace)
    assert not state.running
    assert state.done_at is not None
    assert f"workspace {workspace.slug} has no key" in caplog.text


# name: (soft time limit, hard time limit, retries of a transient Instantly error)
OPTIONS = {
    "orders.verify_key": (60, 90, 0),
    "orders.verify_pending_key": (60, 90, 0),
    "orders.check_domains": (600, 660, 5),
    "orders.sweep_domain_checks": (60, 90, 0),
    "orders.refresh_remote_mirror": (300, 360, 5),
    "orders.place_order": (150, 180, 0),
    "orders.reconcile_order": (300, 360, 0),
    "orders.reconcile_order_now": (300, 360, 0),
    "orders.sweep_orders": (120, 180, 0),
    "orders.poll_fulfilment": (60, 90, 0),
    "orders.poll_workspace": (600, 660, 5),
    "orders.poll_health": (60, 90, 0),
    "orders.poll_workspace_health": (600, 660, 5),
    "orders.deliver_notification": (60, 90, 0),
    "orders.cancel_mailboxes": (300, 360, 0),
    "orders.sweep_cancellations": (60, 90, 0),
    "orders.run_scheduled_cancellations": (60, 90, 0),
    "orders.run_scheduled_cancellation": (300, 360, 0),
}


def test_every_task_is_registered_with_the_shared_options_and_its_own_limits() -> None:
    from dfyportal.celery import app
    from orders.instantly import InstantlyTransientError

    app.loader.import_default_modules()
    ours = {
        name: task for name, task in app.tasks.items() if name.startswith("orders.")
    }

    assert set(ours) == set(OPTIONS)
    for name, task in ours.items():
        soft, hard, retries = OPTIONS[name]
        assert (task.soft_time_limit, task.time_limit) == (soft, hard), name
        assert task.acks_late is True, name
        assert task.ignore_result is True, name
        if retries:
            assert getattr(task, "autoretry_for", ()) == (InstantlyTransientError,), (
                name
            )
            assert getattr(task, "retry_backoff", False) is True, name
            assert task.max_retries == retries, name
        else:
            # Never retried by Celery on its own: placement must not POST twice, and the
            # others record their failure (or retry themselves, as notifications do).
            assert not getattr(task, "autoretry_for", ()), name


def test_the_beat_poll_queues_one_poll_per_followed_workspace(
    workspace,
    operator,
    other_workspace,
    monkeypatch,
    django_capture_on_commit_callbacks,
) -> None:
    from tests import task_capture
    from tests.orders.history_data import make_order

    sent = task_capture.recorded(monkeypatch, "orders.poll_workspace")
    make_order(workspace, operator, status="placed")
    make_order(workspace, operator, status="provisioning")
    make_order(other_workspace, operator, status="ready")  # nothing left to follow

    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_fulfilment_task()

    assert sent == [{"workspace_id": workspace.pk}]
