"""The one way product code starts background work (docs/tasks.md).

Each function names one Celery task and sends it, by name, when the caller's transaction
commits (at once outside a transaction): a worker never looks for a row that is not committed
yet, and a rollback sends nothing. Sending by name keeps orders/tasks.py, which imports the
services, out of the services' own imports. The keyword arguments are typed here, so a caller
cannot send a message its task would refuse; tests/orders/test_enqueue.py checks that every
function matches its task's name and arguments.
"""

from __future__ import annotations

import functools

from celery import current_app
from django.db import transaction


def _send_on_commit(task_name: str, **kwargs: int | str) -> None:
    transaction.on_commit(functools.partial(_send, task_name, kwargs))


def _send(task_name: str, kwargs: dict[str, int | str]) -> None:
    current_app.send_task(task_name, kwargs=kwargs)


# --- keys ---------------------------------------------------------------------------------


def verify_key(*, workspace_id: int) -> None:
    """Verify the workspace's active Instantly key (`orders.verify_key`)."""
    _send_on_commit("orders.verify_key", workspace_id=workspace_id)


def verify_pending_key(*, pending_id: int) -> None:
    """Verify a pasted key before it replaces the active one (`orders.verify_pending_key`)."""
    _send_on_commit("orders.verify_pending_key", pending_id=pending_id)


# --- the builder's finders ----------------------------------------------------------------


def check_domains(*, check_id: int) -> None:
    """Run a domain availability check (`orders.check_domains`)."""
    _send_on_commit("orders.check_domains", check_id=check_id)


def refresh_remote_mirror(*, workspace_id: int) -> None:
    """Re-read the workspace's ordered domains and mailboxes (`orders.refresh_remote_mirror`)."""
    _send_on_commit("orders.refresh_remote_mirror", workspace_id=workspace_id)


# --- placement, reconciliation, fulfilment, cancellation ----------------------------------


def place_order(*, order_id: int) -> None:
    """Claim and place an approved order (`orders.place_order`)."""
    _send_on_commit("orders.place_order", order_id=order_id)


def reconcile_order(*, order_id: int) -> None:
    """One reconciliation check of an unknown outcome, if due (`orders.reconcile_order`)."""
    _send_on_commit("orders.reconcile_order", order_id=order_id)


def reconcile_order_now(*, order_id: int) -> None:
    """One reconciliation check that staff asked for, due or not
    (`orders.reconcile_order_now`)."""
    _send_on_commit("orders.reconcile_order_now", order_id=order_id)


def poll_workspace(*, workspace_id: int) -> None:
    """Move the workspace's orders on from what Instantly reports (`orders.poll_workspace`)."""
    _send_on_commit("orders.poll_workspace", workspace_id=workspace_id)


def poll_workspace_health(*, workspace_id: int) -> None:
    """Read the health of the workspace's delivered mailboxes
    (`orders.poll_workspace_health`)."""
    _send_on_commit("orders.poll_workspace_health", workspace_id=workspace_id)


def cancel_mailboxes(*, run_id: int) -> None:
    """Send a confirmed cancellation to Instantly (`orders.cancel_mailboxes`)."""
    _send_on_commit("orders.cancel_mailboxes", run_id=run_id)


def run_scheduled_cancellation(*, schedule_id: int, now: str) -> None:
    """Carry out one cancellation scheduled before a renewal, if due at `now` (ISO time)
    (`orders.run_scheduled_cancellation`)."""
    _send_on_commit(
        "orders.run_scheduled_cancellation", schedule_id=schedule_id, now=now
    )


# --- notifications ------------------------------------------------------------------------


def deliver_notification(
    *, order_id: int, event: str, event_id: str, channel: str
) -> None:
    """One email or webhook delivery of an event (`orders.deliver_notification`)."""
    _send_on_commit(
        "orders.deliver_notification",
        order_id=order_id,
        event=event,
        event_id=event_id,
        channel=channel,
    )
