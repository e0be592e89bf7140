"""Celery tasks (docs/tasks.md): thin, named, id-only, idempotent; each calls one service.

Product code does not import this module: it sends these tasks by name through
orders/enqueue.py (the frozen workflow modules still call `delay_on_commit` here). The names
are what queued messages and the beat schedule refer to: never rename one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ParamSpec, TypedDict, TypeVar, cast

from celery import shared_task
from django.conf import settings

from orders import (
    cancellation_runs,
    enqueue,
    finders,
    fulfilment,
    instantly_keys,
    mailbox_health,
    mirror,
    notifications,
    renewal_schedules,
    workflow,
)
from orders.instantly import InstantlyTransientError
from orders.models import DomainCheck, Order, Workspace

if TYPE_CHECKING:
    from celery.contrib.django.task import DjangoTask

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


class _TransientRetry(TypedDict, total=False):
    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: bool
    max_retries: int


def orders_task(
    name: str, *, soft_time_limit: int, time_limit: int, transient_retries: int = 0
) -> Callable[[Callable[P, R]], DjangoTask[P, R]]:
    """Register a task with the options every task here shares: acknowledged when it ends,
    so a killed worker's message runs again (each task's guard makes that harmless), and no
    stored result (nothing reads one). A task states only its name, its time limits and, if
    it only reads Instantly, how many times a transient Instantly error is retried with
    exponential backoff; other tasks never retry by themselves.

    Under Django, Celery's fixup makes every task a DjangoTask (with `delay_on_commit`, which
    the frozen workflow modules call); celery-types only knows `Task`, hence the cast."""
    retry: _TransientRetry = {}
    if transient_retries:
        retry = {
            "autoretry_for": (InstantlyTransientError,),
            "retry_backoff": True,
            "max_retries": transient_retries,
        }
    register = shared_task(
        name=name,
        ignore_result=True,
        acks_late=True,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        **retry,
    )

    def decorate(run: Callable[P, R]) -> DjangoTask[P, R]:
        return cast("DjangoTask[P, R]", register(run))

    return decorate


# --- keys and the builder's finders -------------------------------------------------------


@orders_task("orders.verify_key", soft_time_limit=60, time_limit=90)
def verify_key_task(*, workspace_id: int) -> None:
    """Verify the workspace's Instantly key and store its status. Idempotent; a workspace or
    key deleted since enqueueing is skipped. Unreachable is stored, not retried: the user can
    press "Verify now" again."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        logger.info("verify_key: workspace %s is gone", workspace_id)
        return
    try:
        instantly_keys.instantly_key_verify(workspace=workspace)
    except instantly_keys.InstantlyKeyMissing:
        logger.info("verify_key: workspace %s has no key any more", workspace.slug)


@orders_task("orders.verify_pending_key", soft_time_limit=60, time_limit=90)
def verify_pending_key_task(*, pending_id: int) -> None:
    """Verify a pasted key; it replaces the active key only if Instantly accepts it.
    Idempotent: an attempt already finished or superseded by a newer paste is skipped."""
    instantly_keys.instantly_key_verify_pending(pending_id=pending_id)


CHECK_MAX_RETRIES = 5


@orders_task(
    "orders.check_domains",
    soft_time_limit=600,
    time_limit=660,
    transient_retries=CHECK_MAX_RETRIES,
)
def check_domains_task(*, check_id: int) -> None:
    """Run (or resume) a domain availability check. Idempotent: checked domains are skipped,
    and the check's lease lets one run at a time work on it, so a duplicate or redelivered
    message does nothing while another run is alive, and carries on where a dead one stopped."""
    check = (
        DomainCheck.objects.select_related("workspace", "order")
        .filter(pk=check_id)
        .first()
    )
    if check is None or check.is_finished:
        return
    request = check_domains_task.request
    # The last retry records the failure instead of raising, so the page stops waiting.
    final = bool(request.called_directly) or request.retries >= CHECK_MAX_RETRIES
    finders.domain_check_run(check=check, final=final)


@orders_task("orders.sweep_domain_checks", soft_time_limit=60, time_limit=90)
def sweep_domain_checks_task() -> None:
    """Beat: send again the domain checks whose worker died or whose message was lost, and stop
    those past their bound. Idempotent: the check's lease makes a second message harmless."""
    finders.domain_checks_sweep()


@orders_task(
    "orders.refresh_remote_mirror",
    soft_time_limit=300,
    time_limit=360,
    transient_retries=5,
)
def refresh_remote_mirror_task(*, workspace_id: int) -> None:
    """Upsert the workspace's ordered domains and mailboxes from Instantly. Idempotent."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    mirror.workspace_mirror_refresh(workspace=workspace)


# --- approval, submission, fulfilment, cancellation ---------------------------------------
# Placement is idempotent through its claim (only an `approved` row is claimed, by one
# conditional UPDATE), so a duplicate or redelivered message does nothing: acks_late is safe.
# It never retries: after the claim, a failure is recorded, not re-run.


@orders_task("orders.place_order", soft_time_limit=150, time_limit=180)
def place_order_task(*, order_id: int) -> None:
    """Claim and place an approved order (at most one real POST per claim). Must not POST
    twice: idempotent through the claim, one conditional UPDATE of an `approved` row, so a
    redelivered or duplicate message finds the order claimed and does nothing."""
    order = (
        Order.objects.select_related("workspace", "approved_quote")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        logger.info("place_order: order %s is gone", order_id)
        return
    workflow.order_place(order=order)


# Reconciliation does not retry by itself: every check, a failed one too, is counted and the
# next is spaced by the order's backoff (the sweeper enqueues it when due).
@orders_task("orders.reconcile_order", soft_time_limit=300, time_limit=360)
def reconcile_order_task(*, order_id: int) -> None:
    """One reconciliation check of an `unknown` order, if due: list endpoints only, never a
    POST. Idempotent: a check that is not due (backoff) or an order no longer `unknown` is
    skipped."""
    order = Order.objects.select_related("workspace").filter(pk=order_id).first()
    if order is None:
        return
    workflow.order_reconcile(order=order, only_if_due=True)


@orders_task("orders.reconcile_order_now", soft_time_limit=300, time_limit=360)
def reconcile_order_now_task(*, order_id: int) -> None:
    """One reconciliation check that staff asked for in the admin, due or not: list
    endpoints only, never a POST; the check is recorded in the order's events like every
    other. Idempotent in effect: an order no longer `unknown` is skipped, and a redelivered
    message only reads Instantly once more (one more counted check)."""
    order = Order.objects.select_related("workspace").filter(pk=order_id).first()
    if order is None:
        return
    workflow.order_reconcile(order=order)


@orders_task("orders.sweep_orders", soft_time_limit=120, time_limit=180)
def sweep_orders_task() -> None:
    """Beat: re-enqueue stranded approvals, settle crashed claims, flag stuck orders.
    Idempotent: every step is a conditional update on the order's state."""
    workflow.orders_sweep()


@orders_task("orders.sweep_cancellations", soft_time_limit=60, time_limit=90)
def sweep_cancellations_task() -> None:
    """Beat: send again cancellation runs whose message or worker was lost. Idempotent: the
    run's claim makes a second message harmless."""
    cancellation_runs.cancellation_runs_sweep()


@orders_task("orders.poll_fulfilment", soft_time_limit=60, time_limit=90)
def poll_fulfilment_task() -> None:
    """Beat: one polling task per workspace with orders being fulfilled. Idempotent: polls
    only read, so an extra one costs requests, not correctness."""
    for workspace_id in fulfilment.workspaces_to_poll():
        enqueue.poll_workspace(workspace_id=workspace_id)


@orders_task(
    "orders.poll_workspace",
    soft_time_limit=600,
    time_limit=660,
    transient_retries=5,
)
def poll_workspace_task(*, workspace_id: int) -> None:
    """Page through the workspace's ordered domains and mailboxes and move its orders on.
    Idempotent; reads only. Also what the admin's "Re-sync from Instantly" queues."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        fulfilment.fulfilment_poll_workspace(workspace=workspace)
    except instantly_keys.InstantlyKeyMissing:
        logger.info("poll_workspace: workspace %s has no key", workspace.slug)


@orders_task("orders.poll_health", soft_time_limit=60, time_limit=90)
def poll_health_task() -> None:
    """Beat (DFY_HEALTH_INTERVAL): one health poll per workspace with delivered orders.
    Idempotent: polls only read Instantly, so an extra one costs requests, not correctness."""
    for workspace_id in mailbox_health.workspaces_to_follow():
        enqueue.poll_workspace_health(workspace_id=workspace_id)


@orders_task(
    "orders.poll_workspace_health",
    soft_time_limit=600,
    time_limit=660,
    transient_retries=5,
)
def poll_workspace_health_task(*, workspace_id: int) -> None:
    """Read the workspace's delivered mailboxes from Instantly's accounts list (by pages) and
    fold their health. Idempotent; reads only: the same reading twice changes nothing and
    tells nobody twice (a notice only on entering attention)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        mailbox_health.health_poll_workspace(workspace=workspace)
    except instantly_keys.InstantlyKeyMissing:
        logger.info("poll_workspace_health: workspace %s has no key", workspace.slug)


# A cancellation is irreversible and never retried: the run's claim (one conditional UPDATE of
# a `queued` run) lets one message send it; a redelivered one finds the run claimed.


@orders_task("orders.cancel_mailboxes", soft_time_limit=300, time_limit=360)
def cancel_mailboxes_task(*, run_id: int) -> None:
    """Send a confirmed cancellation to Instantly (one cancel call, never repeated) and record
    the result per mailbox. Idempotent through the claim: a run no longer `queued` is left
    as it is, so a redelivered or duplicate message cancels nothing twice."""
    cancellation_runs.cancellation_run_execute(run_id=run_id)


# --- cancellations scheduled before a renewal (docs/renewals.md) -----------------------------


@orders_task("orders.run_scheduled_cancellations", soft_time_limit=60, time_limit=90)
def run_scheduled_cancellations_task(*, now: str = "") -> None:
    """Beat (hourly): skip schedules never approved in time, send one task per due schedule,
    record outcomes a stopped worker left unrecorded. `now` (ISO time) is for tests and
    catch-up runs; empty means the current time. Idempotent: every step is conditional."""
    renewal_schedules.renewal_cancels_run_due(now=_when(now))


@orders_task("orders.run_scheduled_cancellation", soft_time_limit=300, time_limit=360)
def run_scheduled_cancellation_task(*, schedule_id: int, now: str = "") -> None:
    """Carry out one due schedule through a cancellation run (one cancel call, never
    repeated). Idempotent through the schedule's claim: one no longer runnable is left as
    it is."""
    renewal_schedules.renewal_cancel_execute(schedule_id=schedule_id, now=_when(now))


def _when(now: str) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


# --- notifications ------------------------------------------------------------------------
# One message per event and channel. Idempotent through the event id: a redelivered message
# for a delivered event does nothing (orders/notifications.py, docs/webhooks.md).


@orders_task("orders.deliver_notification", soft_time_limit=60, time_limit=90)
def deliver_notification_task(
    *, order_id: int, event: str, event_id: str, channel: str
) -> None:
    """One attempt at an email or webhook delivery; a failure that may pass is retried with
    exponential backoff until DFY_NOTIFICATION_MAX_ATTEMPTS. Idempotent through the event id:
    nothing is sent for an event already delivered on this channel (NotificationDelivery)."""
    request = deliver_notification_task.request
    attempts = int(settings.DFY_NOTIFICATION_MAX_ATTEMPTS)
    # A direct call (tests, a shell) has no queue to come back through.
    final = bool(request.called_directly) or request.retries + 1 >= attempts
    outcome = notifications.notification_deliver(
        order_id=order_id, event=event, event_id=event_id, channel=channel, final=final
    )
    if outcome.retry:
        raise deliver_notification_task.retry(
            countdown=outcome.retry_in or notifications.retry_delay(request.retries),
            max_retries=attempts - 1,
        )
