"""Cancellations scheduled before a renewal (writes): schedule, approve, withdraw, and the
beat's run of the due ones through the ordinary cancellation run (docs/renewals.md).

A schedule belongs to one order: the mailboxes chosen (or whole domains) are cancelled on the
day before the next renewal (the 15th) by `orders.run_scheduled_cancellation`, which re-reads
what is still live (mailboxes cancelled meanwhile are skipped and said), queues a
`CancellationRun` and executes it like any confirmed cancellation: one cancel call, never
repeated (orders/cancellation_runs.py). A schedule that cancels more mailboxes than
DFY_SCHEDULED_CANCEL_APPROVAL_OVER, or that an operator made, waits for a lead other than the
person who made it; anyone who may withdraw it can do so until the worker claims it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders import billing, cancellation, cancellation_runs, conf, enqueue, renewals
from orders.instantly import InstantlyClient
from orders.lifecycle import (
    EventKind,
    Notice,
    order_event_record,
    order_lock,
    order_notify,
)
from orders.models import (
    OPEN_SCHEDULE_STATUSES,
    RUNNABLE_SCHEDULE_STATUSES,
    CancellationStatus,
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderType,
    ScheduledCancellation,
    ScheduleStatus,
    Workspace,
)

logger = logging.getLogger(__name__)

# Schedules one beat run looks at per step; the next hourly run takes the rest.
BATCH: Final = 200
OUTCOME_LENGTH: Final = ScheduledCancellation._meta.get_field("outcome").max_length
NAMES_SHOWN: Final = 3


class RenewalScheduleError(Exception):
    """The schedule cannot be made or changed as asked; the message is for the user."""


def day_words(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _mailboxes_words(count: int) -> str:
    return f"{count} mailbox{'es' if count != 1 else ''}"


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _membership(workspace: Workspace, user: User) -> Membership:
    membership = Membership.objects.filter(user=user, workspace=workspace).first()
    if membership is None:
        raise RenewalScheduleError("You are not a member of this workspace.")
    return membership


# --- scheduling ---------------------------------------------------------------------------


def _selection(
    order: Order, mailbox_ids: Iterable[int], domains: Iterable[str]
) -> cancellation.CancelPreview:
    """The chosen mailboxes of the order, checked one by one so that the person is told what
    is wrong with which; then the ordinary cancellation preview of them."""
    ids = set(mailbox_ids)
    wanted = {d.strip().lower() for d in domains if d.strip()}
    if not ids and not wanted:
        raise RenewalScheduleError(
            "Choose at least one mailbox or domain to cancel before the renewal."
        )
    found = {
        m.pk: m
        for m in Mailbox.objects.filter(item__order=order, pk__in=ids).select_related(
            "item"
        )
    }
    if foreign := sorted(ids - set(found)):
        raise RenewalScheduleError(
            f"Mailbox #{foreign[0]} is not a mailbox of {order.display_name}."
        )
    for mailbox in found.values():
        if mailbox.status == MailboxStatus.CANCELLED:
            raise RenewalScheduleError(f"{mailbox.email} is already cancelled.")
    live_by_domain: dict[str, int] = {}
    for domain, status in order.items.values_list("domain", "mailboxes__status"):
        key = domain.lower()
        live_by_domain[key] = live_by_domain.get(key, 0) + int(
            status is not None and status != MailboxStatus.CANCELLED
        )
    for domain in sorted(wanted):
        if domain not in live_by_domain:
            raise RenewalScheduleError(
                f"{domain} is not a domain of {order.display_name}."
            )
        if not live_by_domain[domain]:
            raise RenewalScheduleError(
                f"Every mailbox of {domain} is already cancelled."
            )
    try:
        return cancellation.cancellation_preview(
            order=order, mailbox_ids=sorted(ids), domains=sorted(wanted)
        )
    except cancellation.CancelError as exc:
        raise RenewalScheduleError(str(exc)) from exc


def _already_scheduled(order: Order, preview: cancellation.CancelPreview) -> None:
    for schedule in order.scheduled_cancellations.open():
        emails, domains = set(schedule.emails), set(schedule.domains)
        for email in preview.emails:
            if email in emails or email.split("@", 1)[1] in domains:
                raise RenewalScheduleError(
                    f"{email} is already scheduled to be cancelled before the "
                    f"{day_words(schedule.renewal_on)} renewal."
                )


def _breakdown(preview: cancellation.CancelPreview) -> dict[str, list[int]]:
    """{provider: [mailboxes, domains whose last live mailbox goes]} of the preview."""
    provider_of = {m.item.domain.lower(): m.item.provider for m in preview.mailboxes}
    breakdown: dict[str, list[int]] = {}
    for consequence in preview.domains:
        row = breakdown.setdefault(str(provider_of[consequence.domain]), [0, 0])
        row[0] += len(consequence.selected)
        row[1] += int(consequence.cancels_domain)
    return breakdown


@transaction.atomic
def renewal_cancel_schedule(
    *,
    order: Order,
    by: User,
    mailbox_ids: Sequence[int] = (),
    domains: Sequence[str] = (),
    now: datetime | None = None,
) -> ScheduledCancellation:
    """Schedule the chosen mailboxes (or whole domains) of the order to be cancelled the day
    before the next renewal. Records the event; asks the approvers when it needs a lead's
    approval. Raises RenewalScheduleError with words for the person."""
    now = now or timezone.now()
    membership = _membership(order.workspace, by)
    locked = order_lock(order)
    # The preview reads the order's workspace; keep the one already loaded.
    locked.workspace = order.workspace
    preview = _selection(locked, mailbox_ids, domains)
    _already_scheduled(locked, preview)
    renewal_on = renewals.next_renewal(timezone.localdate(now))
    breakdown = _breakdown(preview)
    monthly, yearly = renewals.schedule_breakdown_saving(
        prices=renewals.unit_prices(locked.workspace),
        prewarmed=locked.order_type == OrderType.PRE_WARMED_UP,
        pays_domains=locked.order_type != OrderType.EXTRA_ACCOUNTS,
        breakdown={int(p): (v[0], v[1]) for p, v in breakdown.items()},
    )
    needs_approval = (
        preview.count > conf.scheduled_cancel_approval_over() or not membership.is_lead
    )
    schedule = ScheduledCancellation.objects.create(
        workspace_id=locked.workspace_id,
        order=locked,
        emails=preview.emails,
        domains=sorted({d.strip().lower() for d in domains if d.strip()}),
        breakdown=breakdown,
        renewal_on=renewal_on,
        run_on=renewals.run_day(renewal_on),
        status=ScheduleStatus.AWAITING_APPROVAL
        if needs_approval
        else ScheduleStatus.SCHEDULED,
        monthly_saving=monthly,
        yearly_saving=yearly,
        scheduled_by=by,
    )
    summary = (
        f"{_mailboxes_words(preview.count)} of {locked.display_name} "
        f"({_names([d.domain for d in preview.domains])}) to be cancelled on "
        f"{day_words(schedule.run_on)}, before the {day_words(renewal_on)} renewal; "
        f"saves {billing.dollars(monthly)} a month"
        + (f" and {billing.dollars(yearly)} a year of domains" if yearly else "")
        + "."
        + (
            f" A lead other than {by.get_username()} must approve it."
            if needs_approval
            else ""
        )
    )
    order_event_record(
        order=locked,
        by=by,
        kind=EventKind.RENEWAL_CANCEL_SCHEDULED,
        from_status=locked.status,
        to_status=locked.status,
        summary=summary,
        schedule_id=schedule.pk,
        emails=schedule.emails,
        renewal_on=renewal_on.isoformat(),
        needs_approval=needs_approval,
    )
    if needs_approval:
        order_notify(order_id=locked.pk, notice=Notice.RENEWAL_CANCEL_APPROVAL)
    return schedule


@transaction.atomic
def renewal_cancel_schedule_domains(
    *,
    workspace: Workspace,
    by: User,
    item_ids: Sequence[int],
    now: datetime | None = None,
) -> list[ScheduledCancellation]:
    """Whole domains chosen on the renewals page (order items, possibly of several orders):
    one schedule per order, all or none. Raises RenewalScheduleError."""
    ids = set(item_ids)
    if not ids:
        raise RenewalScheduleError(
            "Choose at least one domain to cancel before the renewal."
        )
    rows = list(
        Order.objects.in_workspace(workspace)
        .filter(items__pk__in=ids)
        .values_list("pk", "items__pk", "items__domain")
    )
    if missing := sorted(ids - {item for _, item, _ in rows}):
        raise RenewalScheduleError(
            f"Domain #{missing[0]} is not a domain of this workspace."
        )
    by_order: dict[int, list[str]] = {}
    for order_id, _, domain in rows:
        by_order.setdefault(order_id, []).append(domain)
    orders = Order.objects.in_workspace(workspace).select_related("workspace")
    return [
        renewal_cancel_schedule(
            order=orders.get(pk=order_id), by=by, domains=names, now=now
        )
        for order_id, names in sorted(by_order.items())
    ]


# --- approval and withdrawal --------------------------------------------------------------


def _schedule_words(schedule: ScheduledCancellation) -> str:
    return (
        f"cancelling {_mailboxes_words(schedule.count)} of "
        f"{schedule.order.display_name} on {day_words(schedule.run_on)}, before the "
        f"{day_words(schedule.renewal_on)} renewal"
    )


@transaction.atomic
def renewal_cancel_approve(
    *, schedule: ScheduledCancellation, by: User, now: datetime | None = None
) -> ScheduledCancellation:
    """A lead other than its author approves a schedule awaiting approval (four-eyes).
    Raises RenewalScheduleError."""
    now = now or timezone.now()
    if not _membership(schedule.workspace, by).is_lead:
        raise RenewalScheduleError(
            "Only a lead or a workspace admin can approve a scheduled cancellation."
        )
    if by.pk == schedule.scheduled_by_id:
        raise RenewalScheduleError(
            "You scheduled this cancellation: another lead must approve it (four-eyes)."
        )
    if timezone.localdate(now) >= schedule.renewal_on:
        raise RenewalScheduleError(
            f"The {day_words(schedule.renewal_on)} renewal has passed; schedule again "
            "for the next one."
        )
    order = order_lock(schedule.order)
    won = ScheduledCancellation.objects.filter(
        pk=schedule.pk, status=ScheduleStatus.AWAITING_APPROVAL
    ).update(status=ScheduleStatus.APPROVED, approved_by=by, approved_at=now)
    schedule.refresh_from_db()
    if not won:
        raise RenewalScheduleError(
            f"This cancellation is {schedule.get_status_display().lower()}: only one "
            "awaiting approval can be approved."
        )
    order_event_record(
        order=order,
        by=by,
        kind=EventKind.RENEWAL_CANCEL_APPROVED,
        from_status=order.status,
        to_status=order.status,
        summary=f"{by.get_username()} approved {_schedule_words(schedule)}.",
        schedule_id=schedule.pk,
    )
    return schedule


@transaction.atomic
def renewal_cancel_unschedule(
    *, schedule: ScheduledCancellation, by: User, now: datetime | None = None
) -> ScheduledCancellation:
    """Withdraw a schedule that has not run yet: its author or any lead. Raises
    RenewalScheduleError once the worker has claimed it (or it ended otherwise)."""
    now = now or timezone.now()
    membership = _membership(schedule.workspace, by)
    if not membership.is_lead and by.pk != schedule.scheduled_by_id:
        raise RenewalScheduleError(
            "Only the person who scheduled it or a lead can withdraw it."
        )
    order = order_lock(schedule.order)
    won = ScheduledCancellation.objects.filter(
        pk=schedule.pk, status__in=OPEN_SCHEDULE_STATUSES
    ).update(status=ScheduleStatus.UNSCHEDULED, unscheduled_by=by, unscheduled_at=now)
    schedule.refresh_from_db()
    if not won:
        raise RenewalScheduleError(
            f"This cancellation is already {schedule.get_status_display().lower()}; it "
            "can no longer be withdrawn."
        )
    order_event_record(
        order=order,
        by=by,
        kind=EventKind.RENEWAL_CANCEL_UNSCHEDULED,
        from_status=order.status,
        to_status=order.status,
        summary=f"{by.get_username()} withdrew {_schedule_words(schedule)}.",
        schedule_id=schedule.pk,
    )
    return schedule


# --- the beat's run -----------------------------------------------------------------------


@dataclass(frozen=True)
class DueRun:
    skipped: int
    sent: int
    reported: int


def renewal_cancels_run_due(*, now: datetime | None = None) -> DueRun:
    """Beat (hourly): skip schedules never approved before their renewal, send one task per
    due schedule (`orders.run_scheduled_cancellation`; its claim makes duplicates harmless)
    and record the outcome of runs whose worker stopped before recording it. A run missed
    for hours catches up at the next one."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    late = list(
        ScheduledCancellation.objects.filter(
            status=ScheduleStatus.AWAITING_APPROVAL, renewal_on__lte=today
        ).values_list("pk", "renewal_on")[:BATCH]
    )
    skipped = sum(
        _skip(
            pk,
            {ScheduleStatus.AWAITING_APPROVAL},
            f"It was not approved before the {day_words(renewal_on)} renewal, so "
            "nothing was cancelled.",
            now,
        )
        for pk, renewal_on in late
    )
    due = list(
        ScheduledCancellation.objects.filter(
            status__in=RUNNABLE_SCHEDULE_STATUSES, run_on__lte=today
        )
        .order_by("run_on", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    for pk in due:
        enqueue.run_scheduled_cancellation(schedule_id=pk, now=now.isoformat())
    unreported = list(
        ScheduledCancellation.objects.filter(
            status=ScheduleStatus.EXECUTED,
            reported_at__isnull=True,
            run__status__in=[CancellationStatus.DONE, CancellationStatus.FAILED],
        ).values_list("pk", flat=True)[:BATCH]
    )
    reported = sum(_report(pk, now) for pk in unreported)
    if skipped or due or reported:
        logger.info(
            "scheduled cancellations: %s skipped, %s sent, %s reported",
            skipped,
            len(due),
            reported,
        )
    return DueRun(skipped=skipped, sent=len(due), reported=reported)


class _RunLater(Exception):
    """Another cancellation of the order is in progress: undo the claim, try next hour."""


def renewal_cancel_execute(
    *,
    schedule_id: int,
    now: datetime | None = None,
    client: InstantlyClient | None = None,
) -> ScheduledCancellation | None:
    """Carry out one due schedule: claim it (one conditional UPDATE, so it runs once), queue
    its cancellation run for what is still live and execute that run here (the sweep of
    runs sends it again if this worker dies). Mailboxes cancelled or gone since are skipped
    and said; nothing left means the schedule is skipped. Never inside a transaction."""
    now = now or timezone.now()
    schedule = (
        ScheduledCancellation.objects.select_related(
            "order__workspace", "scheduled_by", "approved_by"
        )
        .filter(
            pk=schedule_id,
            status__in=RUNNABLE_SCHEDULE_STATUSES,
            run_on__lte=timezone.localdate(now),
        )
        .first()
    )
    if schedule is None:
        return None
    order = schedule.order
    by = schedule.approved_by or schedule.scheduled_by
    live, gone = _still_live(schedule)
    try:
        if not live:
            raise cancellation.CancelError(
                "Nothing was left to cancel: every chosen mailbox is already cancelled "
                "or no longer there."
            )
        preview = cancellation.cancellation_preview(
            order=order, mailbox_ids=[m.pk for m in live]
        )
    except cancellation.CancelError as exc:
        _skip(schedule.pk, RUNNABLE_SCHEDULE_STATUSES, str(exc), now)
        return _fresh(schedule)
    skipped_words = (
        f"Skipped, already cancelled or no longer there: {_names(gone)}."
        if gone
        else ""
    )
    try:
        with transaction.atomic():
            locked = order_lock(order)
            locked.workspace = order.workspace
            if not ScheduledCancellation.objects.filter(
                pk=schedule.pk, status__in=RUNNABLE_SCHEDULE_STATUSES
            ).update(
                status=ScheduleStatus.EXECUTED,
                executed_at=now,
                outcome=skipped_words[:OUTCOME_LENGTH],
            ):
                return _fresh(schedule)
            run = cancellation_runs.cancellation_run_queue(
                order=locked, by=by, preview=preview, schedule_id=schedule.pk
            )
            if run is None:
                raise _RunLater
            ScheduledCancellation.objects.filter(pk=schedule.pk).update(run=run)
    except _RunLater:
        logger.info(
            "schedule %s: order %s has a cancellation in progress; next hour",
            schedule.pk,
            order.pk,
        )
        return _fresh(schedule)
    cancellation_runs.cancellation_run_execute(run_id=run.pk, client=client)
    _report(schedule.pk, now)
    return _fresh(schedule)


def _fresh(schedule: ScheduledCancellation) -> ScheduledCancellation:
    schedule.refresh_from_db()
    return schedule


def _still_live(schedule: ScheduledCancellation) -> tuple[list[Mailbox], list[str]]:
    """The schedule's mailboxes that are live now, and the chosen addresses that are not."""
    emails, domains = set(schedule.emails), set(schedule.domains)
    live = [
        m
        for m in Mailbox.objects.filter(item__order=schedule.order)
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
        if m.email.lower() in emails or m.item.domain.lower() in domains
    ]
    found = {m.email.lower() for m in live}
    return live, sorted(emails - found)


def _skip(pk: int, statuses: Iterable[str], reason: str, now: datetime) -> bool:
    """End a schedule without cancelling anything, say why on the order's timeline and tell
    its requester. False when it had already moved on."""
    with transaction.atomic():
        schedule = (
            ScheduledCancellation.objects.select_related("order").filter(pk=pk).first()
        )
        if schedule is None:
            return False
        order = order_lock(schedule.order)
        if not ScheduledCancellation.objects.filter(
            pk=pk, status__in=list(statuses)
        ).update(
            status=ScheduleStatus.SKIPPED,
            outcome=reason[:OUTCOME_LENGTH],
            reported_at=now,
        ):
            return False
        order_event_record(
            order=order,
            by=None,
            kind=EventKind.RENEWAL_CANCEL_SKIPPED,
            from_status=order.status,
            to_status=order.status,
            summary=f"Not cancelled before the {day_words(schedule.renewal_on)} "
            f"renewal ({_mailboxes_words(schedule.count)} of {order.display_name}): "
            f"{reason}",
            schedule_id=pk,
        )
        order_notify(order_id=order.pk, notice=Notice.RENEWAL_CANCEL_EXECUTED)
    return True


def _report(pk: int, now: datetime) -> bool:
    """Record what the schedule's finished run did, once (a conditional UPDATE of
    `reported_at`), and tell the order's requester."""
    schedule = (
        ScheduledCancellation.objects.select_related("order", "run")
        .filter(pk=pk)
        .first()
    )
    run = schedule.run if schedule is not None else None
    if schedule is None or run is None or not run.is_finished:
        return False
    done = run.status == CancellationStatus.DONE
    with transaction.atomic():
        order = order_lock(schedule.order)
        if done:
            not_cancelled = sorted(
                e for e, r in run.results.items() if r != cancellation.CANCELLED
            )
            words = (
                f"{run.cancelled} of {_mailboxes_words(run.total)} of "
                f"{order.display_name} cancelled at Instantly before the "
                f"{day_words(schedule.renewal_on)} renewal; saves "
                f"{billing.dollars(schedule.monthly_saving)} a month."
            )
            if not_cancelled:
                words += f" Not cancelled: {_names(not_cancelled)}."
            if schedule.outcome:
                words += f" {schedule.outcome}"
        else:
            words = (
                f"Nothing was cancelled before the {day_words(schedule.renewal_on)} "
                f"renewal ({order.display_name}): {run.error or 'the run failed'}"
            )
        if not ScheduledCancellation.objects.filter(
            pk=pk, status=ScheduleStatus.EXECUTED, reported_at__isnull=True
        ).update(
            reported_at=now,
            outcome=words[:OUTCOME_LENGTH],
            status=ScheduleStatus.EXECUTED if done else ScheduleStatus.SKIPPED,
        ):
            return False
        order_event_record(
            order=order,
            by=None,
            kind=EventKind.RENEWAL_CANCEL_EXECUTED
            if done
            else EventKind.RENEWAL_CANCEL_SKIPPED,
            from_status=order.status,
            to_status=order.status,
            summary=words,
            schedule_id=pk,
            run_id=run.pk,
        )
        order_notify(order_id=order.pk, notice=Notice.RENEWAL_CANCEL_EXECUTED)
    return True
