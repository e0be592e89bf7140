"""Reconciliation of unknown outcomes, a person's resolution, and the sweeper."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders import crypto, fulfilment, notifications, services, tasks
from orders.drafts import order_event_record
from orders.instantly import (
    InstantlyClient,
    InstantlyError,
    InstantlyTransientError,
)
from orders.models import (
    Order,
    OrderStatus,
    OrderType,
)
from orders.workflow.common import (
    RESOLVABLE,
    SWEEP_BATCH_SIZE,
    ApprovalRefused,
    WorkflowError,
    _lock,
    _membership,
    approved_stale_seconds,
    mark_placed,
    reconcile_clock_skew_seconds,
    reconcile_max_checks,
    submitting_stale_seconds,
)
from orders.workflow.placement import _locked_attempt

logger = logging.getLogger(__name__)


# --- Reconciliation -----------------------------------------------------------------------


def _wanted(order: Order) -> tuple[str, set[str]]:
    """What proves the order exists at Instantly: its domains, or for extra_accounts (whose
    domains existed before) its mailboxes' addresses."""
    items = list(order.items.prefetch_related("mailboxes"))
    if order.order_type == OrderType.EXTRA_ACCOUNTS:
        return "accounts", {
            f"{m.email_prefix}@{item.domain}".lower()
            for item in items
            for m in item.mailboxes.all()
        }
    return "orders", {item.domain.lower() for item in items}


def _found_since(
    client: InstantlyClient, endpoint: str, wanted: set[str], since: datetime
) -> set[str]:
    found: set[str] = set()
    if endpoint == "accounts":
        for account in client.iter_accounts():
            email = account.email.lower()
            if email in wanted and account.timestamp_created >= since:
                found.add(email)
    else:
        for remote in client.iter_orders():
            domain = remote.domain.lower()
            if domain in wanted and remote.timestamp_created >= since:
                found.add(domain)
    return found


def order_reconcile(*, order: Order, client: InstantlyClient | None = None) -> Order:
    """Settle an `unknown` outcome from Instantly's list endpoints (reads only, never a POST).

    Everything found created since the attempt began → `placed`; otherwise the check is
    counted, and after `DFY_RECONCILE_MAX_CHECKS` checks → `needs_attention` with the evidence.
    Transient read errors propagate (the task retries them). A refused read (key revoked,
    no plan, no key) counts as a check that found nothing, so a person is asked in time.
    Other statuses are left alone.
    """
    attempt = order.submission_attempt_id
    if (
        order.status != OrderStatus.UNKNOWN
        or order.attempt_started_at is None
        or attempt is None
    ):
        return order
    endpoint, wanted = _wanted(order)
    since = order.attempt_started_at - timedelta(seconds=reconcile_clock_skew_seconds())
    found: set[str] = set()
    error = ""
    try:
        if client is None:
            with services.instantly_client_for(workspace=order.workspace) as built:
                found = _found_since(built, endpoint, wanted, since)
        else:
            found = _found_since(client, endpoint, wanted, since)
    except InstantlyTransientError:
        raise
    except (
        InstantlyError,
        services.InstantlyKeyMissing,
        crypto.SecretUnreadable,
    ) as exc:
        error = f"Instantly's lists could not be read: {exc}"
    return _reconcile_record(order, attempt, endpoint, wanted, found, since, error)


@transaction.atomic
def _reconcile_record(
    order: Order,
    attempt: uuid.UUID,
    endpoint: str,
    wanted: set[str],
    found: set[str],
    since: datetime,
    error: str = "",
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.UNKNOWN])
    if locked is None:
        order.refresh_from_db()
        return order
    now = timezone.now()
    checks = locked.reconcile_checks + 1
    evidence: dict[str, Any] = {
        "endpoint": endpoint,
        "checks": checks,
        "since": since.isoformat(),
        "checked_at": now.isoformat(),
        "found": sorted(found),
        "missing": sorted(wanted - found),
    }
    if error:
        evidence["error"] = error
    locked.reconcile_checks = checks
    locked.reconcile_evidence = evidence
    locked.last_reconciled_at = now
    fields = [
        "reconcile_checks",
        "reconcile_evidence",
        "last_reconciled_at",
        "updated_at",
    ]
    if wanted and found == wanted:
        return mark_placed(
            locked,
            by=None,
            kind="reconciled_placed",
            extra_fields=fields,
            attempt_id=str(attempt),
            **evidence,
        )
    if checks >= reconcile_max_checks():
        what = "mailboxes" if endpoint == "accounts" else "domains"
        reason = (
            f"Instantly's lists show {len(found)} of {len(wanted)} {what} of this order "
            f"after {checks} checks. The order may or may not exist: look at Instantly's "
            "billing page, then mark it placed or re-submit it."
        )
        if error:
            reason = f"{error}. {reason}"
        order_event_record(
            order=locked,
            by=None,
            kind="needs_attention",
            from_status=locked.status,
            to_status=OrderStatus.NEEDS_ATTENTION,
            attempt_id=str(attempt),
            reason=reason,
            **evidence,
        )
        locked.status = OrderStatus.NEEDS_ATTENTION
        locked.attention_reason = reason
        locked.save(update_fields=[*fields, "status", "attention_reason"])
        notifications.order_notify(order=locked, event="needs_attention")
        return locked
    order_event_record(
        order=locked,
        by=None,
        kind="reconcile_check",
        from_status=locked.status,
        to_status=locked.status,
        attempt_id=str(attempt),
        **evidence,
    )
    locked.save(update_fields=fields)
    return locked


# --- A person resolves what the machine could not -------------------------------------------


@transaction.atomic
def order_mark_placed(*, order: Order, by: User, comment: str = "") -> Order:
    """A lead saw the order at Instantly (billing page): record it as placed."""
    locked = _lock(order)
    membership = _membership(by, locked.workspace)
    if membership is None or not membership.is_lead:
        raise ApprovalRefused(
            "Only a lead or a workspace admin can resolve this order."
        )
    if locked.status != OrderStatus.NEEDS_ATTENTION:
        raise WorkflowError(
            f"This order is {locked.get_status_display().lower()}; only an order that "
            "needs attention can be marked placed."
        )
    return mark_placed(
        locked,
        by=by,
        kind="marked_placed",
        comment=comment.strip(),
        evidence=locked.reconcile_evidence,
    )


@transaction.atomic
def order_resubmit(*, order: Order, by: User, comment: str = "") -> Order:
    """Send a failed or unresolved order again as a new approved attempt (the worker claims
    it with a new attempt id and re-quotes first). Needs someone who could approve it."""
    locked = _lock(order)
    if locked.status not in RESOLVABLE:
        raise WorkflowError(
            f"This order is {locked.get_status_display().lower()}; only a failed order or "
            "one that needs attention can be re-submitted."
        )
    membership = _membership(by, locked.workspace)
    quote = locked.approved_quote
    reasons: list[str] = []
    if membership is None or not membership.is_lead:
        reasons.append("Only a lead or a workspace admin can re-submit an order.")
    elif locked.requester_id == by.pk and not locked.workspace.allow_self_approval:
        reasons.append("Four-eyes rule: another lead must re-submit your own order.")
    elif quote is not None and not membership.may_approve_amount(quote.due_now):
        reasons.append(f"${quote.due_now:,.2f} is above your approval limit.")
    if reasons:
        raise ApprovalRefused(" ".join(reasons))
    order_event_record(
        order=locked,
        by=by,
        kind="resubmitted",
        from_status=locked.status,
        to_status=OrderStatus.APPROVED,
        previous_attempt_id=str(locked.submission_attempt_id or ""),
        comment=comment.strip(),
        evidence=locked.reconcile_evidence,
    )
    locked.status = OrderStatus.APPROVED
    locked.approver = by
    locked.decided_by = by
    locked.decided_at = timezone.now()
    locked.placement_tries = 0
    locked.refusal = {}
    locked.finished_at = None
    locked.save(
        update_fields=[
            "status",
            "approver",
            "decided_by",
            "decided_at",
            "placement_tries",
            "refusal",
            "finished_at",
            "updated_at",
        ]
    )
    tasks.place_order_task.delay_on_commit(order_id=locked.pk)
    return locked


# --- The sweeper --------------------------------------------------------------------------


def orders_sweep() -> dict[str, int]:
    """Find what lost messages and crashes left behind (run by beat; idempotent):
    - `approved` untouched for a while: re-enqueue placement (the claim makes duplicates safe);
    - `submitting` past the bound: a worker died between claim and outcome → `unknown`;
    - `unknown`: enqueue one reconciliation check each (checks are spaced by the sweep);
    - placed/provisioning orders without progress for `DFY_STUCK_AFTER_HOURS`: flag stuck.
    """
    now = timezone.now()
    approved = list(
        Order.objects.filter(
            status=OrderStatus.APPROVED,
            updated_at__lt=now - timedelta(seconds=approved_stale_seconds()),
        ).values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    for pk in approved:
        tasks.place_order_task.delay_on_commit(order_id=pk)

    stranded = 0
    for pk, attempt in Order.objects.filter(
        status=OrderStatus.SUBMITTING,
        attempt_started_at__lt=now - timedelta(seconds=submitting_stale_seconds()),
    ).values_list("pk", "submission_attempt_id")[:SWEEP_BATCH_SIZE]:
        stranded += _mark_stranded(pk, attempt)

    unknown = list(
        Order.objects.filter(status=OrderStatus.UNKNOWN).values_list("pk", flat=True)[
            :SWEEP_BATCH_SIZE
        ]
    )
    for pk in unknown:
        tasks.reconcile_order_task.delay_on_commit(order_id=pk)

    stuck = fulfilment.orders_flag_stuck(now=now)
    if approved or stranded or unknown or stuck:
        logger.info(
            "sweep: %s re-enqueued, %s stranded, %s reconciling, %s stuck",
            len(approved),
            stranded,
            len(unknown),
            stuck,
        )
    return {
        "requeued": len(approved),
        "stranded": stranded,
        "reconciling": len(unknown),
        "stuck": stuck,
    }


@transaction.atomic
def _mark_stranded(pk: int, attempt: uuid.UUID | None) -> int:
    locked = (
        Order.objects.select_for_update()
        .filter(pk=pk, status=OrderStatus.SUBMITTING, submission_attempt_id=attempt)
        .first()
    )
    if locked is None:
        return 0
    message = (
        "The worker stopped between claiming the order and recording Instantly's answer; "
        "the order may have been placed. Checking Instantly's lists."
    )
    order_event_record(
        order=locked,
        by=None,
        kind="stranded",
        from_status=locked.status,
        to_status=OrderStatus.UNKNOWN,
        attempt_id=str(attempt),
        started_at=locked.attempt_started_at.isoformat()
        if locked.attempt_started_at
        else None,
    )
    locked.status = OrderStatus.UNKNOWN
    locked.attention_reason = message
    locked.save(update_fields=["status", "attention_reason", "updated_at"])
    return 1
