"""Cancelling mailboxes of a placed order: preview the consequences, confirm by typing, queue
a run, and let a worker call Instantly once and record the result per mailbox.

Instantly deletes a cancelled mailbox's Unibox emails and conversations permanently, and
cancelling the last live mailbox of a domain cancels the domain too. The cancel call changes
state, so it never runs in a request and is sent at most once: a confirmation queues a
`CancellationRun`, and the worker that claims it (queued → running, one conditional UPDATE)
is the only one that sends it. When its answer is lost, the accounts list tells what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders import billing, enqueue, instantly_keys
from orders.instantly import InstantlyClient, InstantlyError, OutcomeUnknown
from orders.lifecycle import (
    BOUGHT_OR_CANCELLED_STATUSES,
    EventKind,
    order_event_record,
    order_lock,
    order_transition,
)
from orders.models import (
    CancellationRun,
    CancellationStatus,
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderStatus,
    RemoteAccount,
)

logger = logging.getLogger(__name__)

UNIBOX_WARNING = (
    "Instantly permanently deletes every Unibox email and conversation of a cancelled "
    "mailbox. This cannot be undone."
)
CANCELLED = "cancelled"
NOT_CANCELLED = "not_cancelled"
UNKNOWN = "unknown"
RESULT_WORDS = {
    CANCELLED: "Cancelled",
    NOT_CANCELLED: "Not cancelled (Instantly did not list it)",
    UNKNOWN: "Unknown: Instantly's answer was lost; the next poll will tell",
}
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


class CancelError(Exception):
    """The cancellation cannot be done as asked; the message is for the user."""


@dataclass(frozen=True)
class DomainConsequence:
    domain: str
    selected: tuple[str, ...]
    remaining: tuple[str, ...]
    # What stops being billed (from the order's bill, docs/instantly.md "Billing").
    stops: billing.BillingStop | None = None

    @property
    def cancels_domain(self) -> bool:
        return not self.remaining


@dataclass(frozen=True)
class CancelPreview:
    order: Order
    mailboxes: tuple[Mailbox, ...]
    domains: tuple[DomainConsequence, ...]

    @property
    def count(self) -> int:
        return len(self.mailboxes)

    @property
    def phrase(self) -> str:
        """What the person types to confirm: the number makes them read the selection."""
        return f"cancel {self.count} mailbox{'es' if self.count != 1 else ''}"

    @property
    def emails(self) -> list[str]:
        return [m.email.lower() for m in self.mailboxes]

    @property
    def domains_cancelled(self) -> list[str]:
        return [d.domain for d in self.domains if d.cancels_domain]

    @property
    def warning(self) -> str:
        return UNIBOX_WARNING

    @property
    def monthly_stops(self) -> Decimal:
        return billing.total_stops(d.stops for d in self.domains if d.stops)

    @property
    def yearly_stops(self) -> Decimal:
        return sum(
            (d.stops.domain_per_year for d in self.domains if d.stops), Decimal("0.00")
        )


@dataclass(frozen=True)
class CancelOutcome:
    order: Order
    results: list[tuple[str, str]] = field(default_factory=list)

    @property
    def cancelled(self) -> int:
        return sum(1 for _, result in self.results if result == CANCELLED)


def _check_role(order: Order, by: User) -> None:
    membership = Membership.objects.filter(user=by, workspace=order.workspace).first()
    if membership is None or not membership.is_lead:
        raise CancelError("Only a lead or a workspace admin can cancel mailboxes.")


def cancellation_preview(
    *,
    order: Order,
    mailbox_ids: Sequence[int] = (),
    domains: Sequence[str] = (),
) -> CancelPreview:
    """The consequences of cancelling these mailboxes (or every live mailbox of these domains)
    of the order. Reads the database only (the remote mirror knows the domains' other
    mailboxes, including ones bought outside this order)."""
    if not order.can_cancel():
        raise CancelError(
            f"This order is {order.get_status_display().lower()}; only placed orders "
            "have mailboxes to cancel."
        )
    wanted_domains = {d.strip().lower() for d in domains if d.strip()}
    selected = [
        m
        for m in Mailbox.objects.filter(item__order=order)
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
        .order_by("item__position", "position", "pk")
        if m.pk in set(mailbox_ids) or m.item.domain.lower() in wanted_domains
    ]
    if not selected:
        raise CancelError("Choose at least one mailbox (or a whole domain) to cancel.")
    by_domain: dict[str, list[str]] = {}
    for mailbox in selected:
        by_domain.setdefault(mailbox.item.domain.lower(), []).append(
            mailbox.email.lower()
        )
    consequences = []
    bill = billing.order_bill(order)
    for domain, emails in by_domain.items():
        live = _live_on_domain(order, domain)
        remaining = tuple(sorted(live - set(emails)))
        consequences.append(
            DomainConsequence(
                domain=domain,
                selected=tuple(emails),
                remaining=remaining,
                stops=billing.billing_stops(
                    bill, domain=domain, cancelled=len(emails), left=len(remaining)
                ),
            )
        )
    return CancelPreview(
        order=order, mailboxes=tuple(selected), domains=tuple(consequences)
    )


def _live_on_domain(order: Order, domain: str) -> set[str]:
    """Every live mailbox address on the domain in this workspace: the portal's own rows of
    any order, plus what Instantly listed at the last poll."""
    ours = {
        m.email.lower()
        for m in Mailbox.objects.filter(
            item__order__workspace=order.workspace,
            item__domain__iexact=domain,
            item__order__status__in=[
                OrderStatus.PLACED,
                OrderStatus.PROVISIONING,
                OrderStatus.READY,
                OrderStatus.PARTIALLY_CANCELLED,
            ],
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
    }
    remote = set(
        RemoteAccount.objects.filter(
            workspace=order.workspace, domain=domain, cancelled_remote_at__isnull=True
        ).values_list("email", flat=True)
    )
    return ours | remote


def _confirmed(
    *,
    order: Order,
    by: User,
    mailbox_ids: Sequence[int],
    domains: Sequence[str],
    confirmation: str,
) -> CancelPreview:
    """The preview of what a lead confirmed by typing its phrase. Raises CancelError."""
    _check_role(order, by)
    preview = cancellation_preview(
        order=order, mailbox_ids=mailbox_ids, domains=domains
    )
    if " ".join(confirmation.lower().split()) != preview.phrase:
        raise CancelError(f'Type "{preview.phrase}" to confirm.')
    return preview


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
    CancelError, also while another cancellation of the order is queued or running."""
    preview = _confirmed(
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
            raise CancelError(IN_PROGRESS_MESSAGE)
        run = CancellationRun.objects.create(
            workspace_id=locked.workspace_id,
            order=locked,
            requested_by=by,
            emails=preview.emails,
            domains_cancelled=preview.domains_cancelled,
        )
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
    results = _cancel_read_back(client, list(run.emails))
    try:
        preview = _preview_now(run.order, run.emails)
    except CancelError:
        # The fulfilment poll has already recorded these mailboxes as cancelled.
        return _run_end(run, CancellationStatus.DONE, results=results)
    with transaction.atomic():
        outcome = _cancel_record(run.order, run.requested_by, preview, results)
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
    except CancelError as exc:
        return _run_refused(run, str(exc))
    try:
        results = _cancel_send(order, by, preview, client)
    except instantly_keys.InstantlyKeyMissing as exc:
        return _run_refused(run, exc.problem)
    except CancelError as exc:  # Instantly refused it; _cancel_call recorded why
        return _run_end(run, CancellationStatus.FAILED, error=str(exc))
    with transaction.atomic():
        outcome = _cancel_record(order, by, preview, results)
        run.order = outcome.order
        return _run_end(run, CancellationStatus.DONE, results=dict(outcome.results))


def _preview_now(order: Order, emails: Sequence[str]) -> CancelPreview:
    """The confirmed addresses as the order has them now: a mailbox cancelled since the
    confirmation is left out, and an order no longer cancellable raises CancelError."""
    wanted = set(emails)
    return cancellation_preview(
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
) -> CancelOutcome:
    """Cancel the chosen mailboxes at Instantly in the caller's thread (one call, never
    repeated) and record the result per mailbox: for a shell and the tests of the cancel
    itself. Views queue a run instead (`cancellation_request`). `confirmation` must be the
    preview's phrase. Raises CancelError.

    Never call inside a transaction: the request is recorded before the HTTP call.
    """
    preview = _confirmed(
        order=order,
        by=by,
        mailbox_ids=mailbox_ids,
        domains=domains,
        confirmation=confirmation,
    )
    # Recorded as a run like a queued one, so the order page reads every cancellation alike.
    run = CancellationRun.objects.create(
        workspace_id=order.workspace_id,
        order=order,
        requested_by=by,
        emails=preview.emails,
        domains_cancelled=preview.domains_cancelled,
        status=CancellationStatus.RUNNING,
        started_at=timezone.now(),
    )
    try:
        results = _cancel_send(order, by, preview, client)
    except instantly_keys.InstantlyKeyMissing as exc:
        _run_end(run, CancellationStatus.FAILED, error=exc.problem)
        raise
    except CancelError as exc:
        _run_end(run, CancellationStatus.FAILED, error=str(exc))
        raise
    outcome = _cancel_record(order, by, preview, results)
    _run_end(run, CancellationStatus.DONE, results=dict(outcome.results))
    return outcome


def _cancel_send(
    order: Order,
    by: User | None,
    preview: CancelPreview,
    client: InstantlyClient | None,
) -> dict[str, str]:
    """Record the request, then send it once: the result per address. Raises CancelError
    when Instantly refused (recorded too), InstantlyKeyMissing before anything is recorded."""
    if client is None:
        with instantly_keys.instantly_client_for(workspace=order.workspace) as built:
            return _cancel_send(order, by, preview, built)
    order_event_record(
        order=order,
        by=by,
        kind=EventKind.CANCEL_REQUEST,
        from_status=order.status,
        to_status=order.status,
        emails=preview.emails,
        domains_cancelled=preview.domains_cancelled,
    )
    return _cancel_call(order, by, client, preview.emails)


def _cancel_call(
    order: Order, by: User | None, client: InstantlyClient, emails: list[str]
) -> dict[str, str]:
    try:
        cancelled = client.cancel_accounts(emails)
    except OutcomeUnknown as exc:
        logger.warning("order %s: cancellation outcome unknown: %s", order.pk, exc)
        return _cancel_read_back(client, emails)
    except InstantlyError as exc:
        order_event_record(
            order=order,
            by=by,
            kind=EventKind.CANCEL_FAILED,
            from_status=order.status,
            to_status=order.status,
            message=str(exc),
            http_status=exc.status_code,
        )
        raise CancelError(f"Instantly did not cancel anything: {exc}") from exc
    done = {a.email.lower() for a in cancelled if a.is_cancelled}
    return {e: CANCELLED if e in done else NOT_CANCELLED for e in emails}


def _cancel_read_back(client: InstantlyClient, emails: list[str]) -> dict[str, str]:
    """The cancel answer was lost: the accounts list says which addresses are cancelled."""
    wanted = set(emails)
    live: set[str] = set()
    cancelled: set[str] = set()
    try:
        for account in client.iter_accounts():
            email = account.email.lower()
            if email in wanted:
                (cancelled if account.is_cancelled else live).add(email)
    except InstantlyError:
        return dict.fromkeys(emails, UNKNOWN)
    # An address reused after an earlier cancellation has a live row too: live wins.
    return {
        e: CANCELLED if e in cancelled and e not in live else NOT_CANCELLED
        for e in emails
    }


@transaction.atomic
def _cancel_record(
    order: Order, by: User | None, preview: CancelPreview, results: dict[str, str]
) -> CancelOutcome:
    locked = order_lock(order)
    now = timezone.now()
    changed = []
    for mailbox in preview.mailboxes:
        if results.get(mailbox.email.lower()) == CANCELLED:
            mailbox.status = MailboxStatus.CANCELLED
            mailbox.cancelled_at = now
            changed.append(mailbox)
    Mailbox.objects.bulk_update(changed, ["status", "cancelled_at"])
    left = (
        Mailbox.objects.filter(item__order=locked)
        .exclude(status=MailboxStatus.CANCELLED)
        .exists()
    )
    domains_cancelled = [
        d.domain
        for d in preview.domains
        if d.cancels_domain and all(results.get(e) == CANCELLED for e in d.selected)
    ]
    target = OrderStatus(locked.status)
    if changed:
        target = OrderStatus.PARTIALLY_CANCELLED if left else OrderStatus.CANCELLED
    if target != locked.status:
        finished = {"finished_at": now} if target == OrderStatus.CANCELLED else {}
        order_transition(
            locked,
            target,
            kind=EventKind.MAILBOXES_CANCELLED,
            by=by,
            changes=finished,
            results=results,
            domains_cancelled=domains_cancelled,
        )
    else:
        # Nothing cancelled, or a partly cancelled order kept some mailboxes: the status
        # stays, but the result still belongs on the timeline.
        order_event_record(
            order=locked,
            by=by,
            kind=EventKind.MAILBOXES_CANCELLED,
            from_status=locked.status,
            to_status=locked.status,
            results=results,
            domains_cancelled=domains_cancelled,
        )
        locked.save(update_fields=["updated_at"])
    return CancelOutcome(
        order=locked, results=[(e, results.get(e, UNKNOWN)) for e in preview.emails]
    )


def last_cancellation(order: Order) -> list[tuple[str, str]]:
    """The per-mailbox result of the order's latest cancellation, from its audit trail."""
    event = (
        order.events.filter(kind=EventKind.MAILBOXES_CANCELLED).order_by("-pk").first()
    )
    if event is None:
        return []
    return _in_words(event.detail.get("results", {}))


def _in_words(results: dict[str, object]) -> list[tuple[str, str]]:
    return [(email, RESULT_WORDS.get(str(r), str(r))) for email, r in results.items()]


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
        results=_in_words(answered.results) if answered else [],
    )


def cancellation_run_latest(order: Order) -> CancellationRun | None:
    """The order's latest cancellation run, for the poll of its status block."""
    return order.cancellation_runs.select_related("requested_by").first()
