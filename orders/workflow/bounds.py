"""Lifecycle bounds: every status that is not final has a time after which a person is told,
exactly once (docs/lifecycle-bounds.md). The sweeper runs `orders_flag_overdue`.

Where a person must act anyway (an approval waiting), telling is a reminder to the approvers
and the status stays. Where the machine should have moved on by itself (approved, unknown), the
order goes to `needs_attention` with the reason in plain words. Placed and provisioning orders
have their own check (`fulfilment.orders_flag_stuck`); `submitting` past its bound becomes
`unknown` (the sweeper's stranded check), so it ends here too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders import lifecycle
from orders.lifecycle import EventKind, Notice
from orders.models import Order, OrderEvent, OrderStatus
from orders.workflow.common import (
    SWEEP_BATCH_SIZE,
    approved_max_seconds,
    awaiting_checkout_remind_seconds,
    needs_reapproval_remind_seconds,
    pending_approval_remind_seconds,
    reconcile_max_age_seconds,
)

logger = logging.getLogger(__name__)

# Statuses whose bound only reminds the approvers: {status: notice}.
REMINDER_EVENTS: dict[str, Notice] = {
    OrderStatus.PENDING_APPROVAL: Notice.APPROVAL_REQUESTED,
    OrderStatus.NEEDS_REAPPROVAL: Notice.NEEDS_REAPPROVAL,
    OrderStatus.AWAITING_CHECKOUT: Notice.AWAITING_CHECKOUT,
}
RESOLVE_HINT = (
    "The order may or may not exist: look at Instantly's billing page, then mark it "
    "placed or re-submit it."
)


def _bound_seconds(status: str) -> int:
    bounds: dict[str, Callable[[], int]] = {
        OrderStatus.PENDING_APPROVAL: pending_approval_remind_seconds,
        OrderStatus.NEEDS_REAPPROVAL: needs_reapproval_remind_seconds,
        OrderStatus.APPROVED: approved_max_seconds,
        OrderStatus.AWAITING_CHECKOUT: awaiting_checkout_remind_seconds,
    }
    return bounds[status]()


def _entered_subquery() -> Subquery:
    """When the order last moved into its current status, from the audit trail."""
    return Subquery(
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status=OuterRef("status"))
        .exclude(from_status=F("to_status"))
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )


def entered_at(order: Order) -> datetime:
    """When `order` entered its current status (its last update if no event says so)."""
    moved = (
        OrderEvent.objects.filter(order=order, to_status=order.status)
        .exclude(from_status=F("to_status"))
        .order_by("-created_at", "-pk")
        .values_list("created_at", flat=True)
        .first()
    )
    return moved or order.updated_at


def clock(moment: datetime | None) -> str:
    """A time people read in a message: local time with the zone's name."""
    if moment is None:
        return "an unknown time"
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def unknown_reason(order: Order) -> str:
    """Why an unknown outcome goes to a person, from the checks recorded on the order."""
    evidence: dict[str, Any] = (
        order.reconcile_evidence if isinstance(order.reconcile_evidence, dict) else {}
    )
    tally: dict[str, int] = evidence.get("tally") or {}
    checks = order.reconcile_checks
    since = clock(order.attempt_started_at)
    failed = tally.get("error", 0) + tally.get("refused", 0)
    read = max(checks - failed, 0)
    last_error = str(evidence.get("error", ""))
    what = "mailboxes" if evidence.get("endpoint") == "accounts" else "domains"
    if checks == 0:
        summary = (
            f"No check of Instantly's lists could run since {since}: "
            "is the worker running?"
        )
    elif read == 0:
        summary = f"Instantly's list endpoints failed {_times(checks)} since {since}"
        summary += (
            f" (last: {last_error})." if evidence.get("result") == "error" else "."
        )
    else:
        found = len(evidence.get("found", []))
        total = found + len(evidence.get("missing", []))
        summary = (
            f"Instantly's lists were read {_times(read)} since {since} and show {found} "
            f"of {total} {what} of this order"
        )
        summary += f"; {failed} other checks failed." if failed else "."
    reason = f"{summary} {RESOLVE_HINT}"
    if evidence.get("result") == "refused" and last_error:
        reason = f"{last_error}. {reason}"
    return reason


def order_to_attention(
    locked: Order,
    *,
    reason: str,
    fields: list[str],
    now: datetime,
    **detail: object,
) -> Order:
    """Move a locked machine-state order to `needs_attention` and tell the requester once.
    `fields` are those the caller already set on `locked`."""
    return lifecycle.order_transition(
        locked,
        OrderStatus.NEEDS_ATTENTION,
        kind=EventKind.NEEDS_ATTENTION,
        by=None,
        changes={
            **{name: getattr(locked, name) for name in fields},
            "attention_reason": reason,
            "next_reconcile_at": None,
            "overdue_notified_at": now,
        },
        notify=Notice.NEEDS_ATTENTION,
        reason=reason,
        **detail,
    )


def orders_flag_overdue(*, now: datetime | None = None) -> int:
    """Tell a person about every order whose status outlived its bound; returns how many
    were told. Idempotent: an order is told once per stay in a status."""
    now = now or timezone.now()
    told = 0
    for status in (*REMINDER_EVENTS, OrderStatus.APPROVED):
        limit = now - timedelta(seconds=_bound_seconds(status))
        pks = list(
            Order.objects.filter(status=status)
            .annotate(entered=Coalesce(_entered_subquery(), "updated_at"))
            .filter(entered__lt=limit)
            .filter(
                Q(overdue_notified_at__isnull=True)
                | Q(overdue_notified_at__lt=F("entered"))
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
        )
        for pk in pks:
            told += _tell(pk, status, now)
    limit = now - timedelta(seconds=reconcile_max_age_seconds())
    for pk, attempt in (
        Order.objects.filter(status=OrderStatus.UNKNOWN, attempt_started_at__lt=limit)
        .order_by("pk")
        .values_list("pk", "submission_attempt_id")[:SWEEP_BATCH_SIZE]
    ):
        told += _unknown_overdue(pk, attempt, now)
    if told:
        logger.info("bounds: %s orders past their bound, a person told", told)
    return told


@transaction.atomic
def _tell(pk: int, status: str, now: datetime) -> int:
    locked = lifecycle.order_lock_first(
        Order.objects.select_for_update().filter(pk=pk, status=status)
    )
    if locked is None:
        return 0
    since = entered_at(locked)
    bound = _bound_seconds(status)
    # Checked again under the lock: a worker may have moved the order out and back meanwhile.
    if since >= now - timedelta(seconds=bound) or (
        locked.overdue_notified_at is not None and locked.overdue_notified_at >= since
    ):
        return 0
    hours = round(bound / 3600, 1)
    if status in REMINDER_EVENTS:
        checkout = status == OrderStatus.AWAITING_CHECKOUT
        lifecycle.order_event_record(
            order=locked,
            by=None,
            kind=EventKind.CHECKOUT_REMINDER
            if checkout
            else EventKind.APPROVAL_REMINDER,
            from_status=status,
            to_status=status,
            waiting_since=since.isoformat(),
            bound_hours=hours,
            reason=f"waiting for a payment at Instantly since {clock(since)}"
            if checkout
            else f"waiting for a decision since {clock(since)}",
        )
        locked.overdue_notified_at = now
        locked.save(update_fields=["overdue_notified_at", "updated_at"])
        lifecycle.order_notify(order_id=locked.pk, notice=REMINDER_EVENTS[status])
        return 1
    reason = (
        f"The order was approved at {clock(since)}, but no worker started placing it "
        f"within {round(bound / 60)} minutes. Nothing was sent to Instantly for this "
        "approval: check that the worker is running, then re-submit."
    )
    locked.reconcile_evidence = {"nothing_sent": True, "bound": "approved"}
    order_to_attention(
        locked,
        reason=reason,
        fields=["reconcile_evidence"],
        now=now,
        bound="approved",
        waiting_since=since.isoformat(),
    )
    return 1


@transaction.atomic
def _unknown_overdue(pk: int, attempt: uuid.UUID | None, now: datetime) -> int:
    limit = now - timedelta(seconds=reconcile_max_age_seconds())
    locked = lifecycle.order_lock_first(
        Order.objects.select_for_update().filter(
            pk=pk,
            status=OrderStatus.UNKNOWN,
            submission_attempt_id=attempt,
            attempt_started_at__lt=limit,
        )
    )
    if locked is None:
        return 0
    order_to_attention(
        locked,
        reason=unknown_reason(locked),
        fields=[],
        now=now,
        bound="unknown_max_age",
        attempt_id=str(attempt),
        checks=locked.reconcile_checks,
        tally=(locked.reconcile_evidence or {}).get("tally", {}),
    )
    return 1
