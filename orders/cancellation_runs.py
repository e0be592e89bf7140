"""Cancellations as recorded runs: a confirmation queues a `CancellationRun`, the worker that
claims it (queued → running, one conditional UPDATE) is the only one that calls Instantly, a
run whose worker died is settled by reading Instantly's accounts list, and the order page
reads its cancellations from the runs. What a cancellation does (the preview, the one call,
the record) is orders/cancellation.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders import cancellation, enqueue, instantly_keys
from orders.instantly import InstantlyClient
from orders.lifecycle import (
    BOUGHT_OR_CANCELLED_STATUSES,
    EventKind,
    order_event_record,
    order_lock,
)
from orders.models import (
    CancellationRun,
    CancellationStatus,
    Mailbox,
    MailboxStatus,
    Order,
)

logger = logging.getLogger(__name__)

IN_PROGRESS_MESSAGE = "A cancellation of this order is already in progress."
IN_PROGRESS = (CancellationStatus.QUEUED, CancellationStatus.RUNNING)
ERROR_LENGTH = CancellationRun._meta.get_field("error").max_length
# A queued run this old lost its message; a running one this old lost its worker (the task's
# hard limit is 360 s), which may have sent the cancel call.
RUN_REQUEUE_SECONDS = 120
# Runs the order page reads: the newest, and the newest with answers among these.
RECENT_RUNS = 10
RUN_STALE_SECONDS = 600
SWEEP_BATCH = 100


def cancellation_request(
    *,
    order: Order,
    by: User,
    mailbox_ids: Sequence[int] = (),
    domains: Sequence[str] = (),
    confirmation: str,
) -> CancellationRun:
    """Queue the confirmed cancellation of the chosen mailboxes for a worker, which sends it
    (`cancellation_run_execute`). `confirmation` must be the preview's phrase. Raises
    cancellation.CancelError, also while another cancellation of the order is queued or running."""
    preview = cancellation.cancellation_confirmed(
        order=order,
        by=by,
        mailbox_ids=mailbox_ids,
        domains=domains,
        confirmation=confirmation,
    )
    with transaction.atomic():
        # Under the order's lock, of two confirmations at once only one queues a run.
        locked = order_lock(order)
        if locked.cancellation_runs.filter(status__in=IN_PROGRESS).exists():
            raise cancellation.CancelError(IN_PROGRESS_MESSAGE)
        run = _run_create(locked, by, preview)
        order_event_record(
            order=locked,
            by=by,
            kind=EventKind.CANCEL_QUEUED,
            from_status=locked.status,
            to_status=locked.status,
            run_id=run.pk,
            emails=run.emails,
        )
        enqueue.cancel_mailboxes(run_id=run.pk)
    return run


def cancellation_run_queue(
    *,
    order: Order,
    by: User,
    preview: cancellation.CancelPreview,
    **detail: object,
) -> CancellationRun | None:
    """A queued run of a cancellation decided ahead of time (a schedule before a renewal,
    orders/renewal_schedules.py): no typed phrase, the preview given. The caller holds the
    order's lock and executes the run (`cancellation_run_execute`) after its commit; the sweep
    sends it if that caller dies. None while another run of the order is queued or running."""
    if order.cancellation_runs.filter(status__in=IN_PROGRESS).exists():
        return None
    run = _run_create(order, by, preview)
    order_event_record(
        order=order,
        by=by,
        kind=EventKind.CANCEL_QUEUED,
        from_status=order.status,
        to_status=order.status,
        run_id=run.pk,
        emails=run.emails,
        **detail,
    )
    return run


def cancellation_run_execute(
    *, run_id: int, client: InstantlyClient | None = None
) -> CancellationRun | None:
    """Send a queued run's cancellation: one cancel call, never repeated, then the result per
    mailbox on the order and on the run. Returns the run, or None when it is gone.

    The run is claimed first (queued → running, one conditional UPDATE): a run that is not
    queued is returned untouched, so a redelivered message never cancels twice. A run left
    running past `RUN_STALE_SECONDS` was claimed by a worker that stopped mid-call: it is
    settled by reading Instantly's accounts list, never by a second cancel call.
    Never call inside a transaction: the request is recorded before the HTTP call."""
    now = timezone.now()
    claimed = CancellationRun.objects.filter(
        pk=run_id, status=CancellationStatus.QUEUED
    ).update(status=CancellationStatus.RUNNING, started_at=now)
    run = (
        CancellationRun.objects.select_related("order__workspace", "requested_by")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        logger.info("cancellation run %s is gone", run_id)
        return None
    if claimed:
        return _run_send(run, client)
    if run.status == CancellationStatus.RUNNING and _reclaim_stale(run, now):
        return _run_settle(run, client)
    if run.status == CancellationStatus.RUNNING:
        logger.warning(
            "order %s: cancellation run %s is already running; not sent again",
            run.order_id,
            run.pk,
        )
    return run


def _reclaim_stale(run: CancellationRun, now: datetime) -> bool:
    """Take over a run whose worker stopped (one conditional UPDATE on its start time, so of
    two sweeps only one settles it)."""
    if run.started_at is None or run.started_at >= now - timedelta(
        seconds=RUN_STALE_SECONDS
    ):
        return False
    return bool(
        CancellationRun.objects.filter(
            pk=run.pk, status=CancellationStatus.RUNNING, started_at=run.started_at
        ).update(started_at=now)
    )


def _run_settle(
    run: CancellationRun, client: InstantlyClient | None
) -> CancellationRun:
    """The worker that sent this run's cancel call stopped before recording its answer, so
    the call may or may not have reached Instantly: its accounts list tells which addresses
    are cancelled now (a read; the cancel call is never sent twice)."""
    if client is None:
        try:
            with instantly_keys.instantly_client_for(
                workspace=run.order.workspace
            ) as built:
                return _run_settle(run, built)
        except instantly_keys.InstantlyKeyMissing as exc:
            return _run_end(run, CancellationStatus.FAILED, error=exc.problem)
    logger.warning(
        "order %s: cancellation run %s stopped mid-call; reading Instantly's accounts",
        run.order_id,
        run.pk,
    )
    results = cancellation.cancel_read_back(client, list(run.emails))
    try:
        preview = _preview_now(run.order, run.emails)
    except cancellation.CancelError:
        # The fulfilment poll has already recorded these mailboxes as cancelled.
        return _run_end(run, CancellationStatus.DONE, results=results)
    with transaction.atomic():
        outcome = cancellation.cancel_record(
            run.order, run.requested_by, preview, results
        )
        run.order = outcome.order
        return _run_end(run, CancellationStatus.DONE, results=dict(outcome.results))


def cancellation_runs_sweep(*, now: datetime | None = None) -> int:
    """Beat: send again the runs whose message was lost (queued too long: the claim makes a
    duplicate harmless) and those a stopped worker left running (settled by a read). Returns
    how many were sent."""
    now = now or timezone.now()
    runs = CancellationRun.objects.filter(
        Q(
            status=CancellationStatus.QUEUED,
            created_at__lt=now - timedelta(seconds=RUN_REQUEUE_SECONDS),
        )
        | Q(
            status=CancellationStatus.RUNNING,
            started_at__lt=now - timedelta(seconds=RUN_STALE_SECONDS),
        )
    ).values_list("pk", flat=True)[:SWEEP_BATCH]
    sent = list(runs)
    for pk in sent:
        enqueue.cancel_mailboxes(run_id=pk)
    if sent:
        logger.info("cancellation sweep: %s runs sent again", len(sent))
    return len(sent)


def _run_send(run: CancellationRun, client: InstantlyClient | None) -> CancellationRun:
    order, by = run.order, run.requested_by
    try:
        preview = _preview_now(order, run.emails)
    except cancellation.CancelError as exc:
        return _run_refused(run, str(exc))
    try:
        results = cancellation.cancel_send(order, by, preview, client)
    except instantly_keys.InstantlyKeyMissing as exc:
        return _run_refused(run, exc.problem)
    except (
        cancellation.CancelError
    ) as exc:  # Instantly refused it; _cancel_call recorded why
        return _run_end(run, CancellationStatus.FAILED, error=str(exc))
    with transaction.atomic():
        outcome = cancellation.cancel_record(order, by, preview, results)
        run.order = outcome.order
        return _run_end(run, CancellationStatus.DONE, results=dict(outcome.results))


def _preview_now(order: Order, emails: Sequence[str]) -> cancellation.CancelPreview:
    """The confirmed addresses as the order has them now: a mailbox cancelled since the
    confirmation is left out, and an order no longer cancellable raises cancellation.CancelError."""
    wanted = set(emails)
    return cancellation.cancellation_preview(
        order=order,
        mailbox_ids=[
            m.pk
            for m in Mailbox.objects.filter(item__order=order)
            .exclude(status=MailboxStatus.CANCELLED)
            .select_related("item")
            if m.email.lower() in wanted
        ],
    )


def _run_refused(run: CancellationRun, reason: str) -> CancellationRun:
    """Nothing was sent: say why on the order's timeline and on the run."""
    order_event_record(
        order=run.order,
        by=run.requested_by,
        kind=EventKind.CANCEL_FAILED,
        from_status=run.order.status,
        to_status=run.order.status,
        message=reason,
    )
    return _run_end(run, CancellationStatus.FAILED, error=reason)


def _run_end(
    run: CancellationRun,
    status: CancellationStatus,
    *,
    results: dict[str, str] | None = None,
    error: str = "",
) -> CancellationRun:
    run.status = status
    run.results = results or {}
    run.error = error[:ERROR_LENGTH]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "results", "error", "finished_at"])
    return run


def order_cancel_mailboxes(
    *,
    order: Order,
    by: User,
    mailbox_ids: Sequence[int] = (),
    domains: Sequence[str] = (),
    confirmation: str,
    client: InstantlyClient | None = None,
) -> cancellation.CancelOutcome:
    """Cancel the chosen mailboxes at Instantly in the caller's thread (one call, never
    repeated) and record the result per mailbox: for a shell and the tests of the cancel
    itself. Views queue a run instead (`cancellation_request`). `confirmation` must be the
    preview's phrase. Raises cancellation.CancelError.

    Never call inside a transaction: the request is recorded before the HTTP call.
    """
    preview = cancellation.cancellation_confirmed(
        order=order,
        by=by,
        mailbox_ids=mailbox_ids,
        domains=domains,
        confirmation=confirmation,
    )
    # Recorded as a run like a queued one, so the order page reads every cancellation alike.
    run = _run_create(
        order,
        by,
        preview,
        status=CancellationStatus.RUNNING,
        started_at=timezone.now(),
    )
    try:
        results = cancellation.cancel_send(order, by, preview, client)
    except instantly_keys.InstantlyKeyMissing as exc:
        _run_end(run, CancellationStatus.FAILED, error=exc.problem)
        raise
    except cancellation.CancelError as exc:
        _run_end(run, CancellationStatus.FAILED, error=str(exc))
        raise
    outcome = cancellation.cancel_record(order, by, preview, results)
    _run_end(run, CancellationStatus.DONE, results=dict(outcome.results))
    return outcome


@dataclass(frozen=True)
class CancellationState:
    # The newest run, for its status block (and its poll while it is not finished).
    latest: CancellationRun | None
    # The newest run that got answers, in words, for the "Last cancellation" table.
    results: list[tuple[str, str]]


def cancellation_state(order: Order) -> CancellationState:
    """What the order page shows of its cancellations, in one query (none for an order that
    was never bought: it has none). Every cancellation is a run, so the runs say it all."""
    if order.status not in BOUGHT_OR_CANCELLED_STATUSES:
        return CancellationState(None, [])
    runs = list(order.cancellation_runs.select_related("requested_by")[:RECENT_RUNS])
    answered = next(
        (r for r in runs if r.status == CancellationStatus.DONE and r.results), None
    )
    return CancellationState(
        latest=runs[0] if runs else None,
        results=cancellation.results_in_words(answered.results) if answered else [],
    )


def cancellation_run_latest(order: Order) -> CancellationRun | None:
    """The order's latest cancellation run, for the poll of its status block."""
    return order.cancellation_runs.select_related("requested_by").first()


def _run_create(
    order: Order,
    by: User,
    preview: cancellation.CancelPreview,
    **state: object,
) -> CancellationRun:
    """The run of a confirmed preview; `state` for one that starts at once (not queued)."""
    return CancellationRun.objects.create(
        workspace_id=order.workspace_id,
        order=order,
        requested_by=by,
        emails=preview.emails,
        domains_cancelled=preview.domains_cancelled,
        **state,
    )
