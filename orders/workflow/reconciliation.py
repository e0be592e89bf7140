"""Reconciliation of unknown outcomes, a person's resolution, and the sweeper."""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from orders import crypto, enqueue, fulfilment, instantly_keys, lifecycle
from orders.instantly import (
    InstantlyClient,
    InstantlyError,
    InstantlyTransientError,
)
from orders.lifecycle import EventKind
from orders.models import (
    Order,
    OrderStatus,
    OrderType,
)
from orders.workflow import bounds
from orders.workflow.approval import four_eyes_conflicts
from orders.workflow.common import (
    RESOLVABLE,
    SWEEP_BATCH_SIZE,
    ApprovalRefused,
    WorkflowError,
    _membership,
    approved_stale_seconds,
    mark_placed,
    reconcile_backoff_cap_seconds,
    reconcile_backoff_seconds,
    reconcile_clock_skew_seconds,
    reconcile_max_age_seconds,
    reconcile_max_checks,
    submitting_stale_seconds,
)
from orders.workflow.placement import _locked_attempt

logger = logging.getLogger(__name__)


# --- Reconciliation -----------------------------------------------------------------------

# A check in progress holds the order this long (above the reconcile task's 360 s hard time
# limit), so a duplicate message cannot read the lists twice; a killed check frees it.
RECONCILE_LEASE_SECONDS = 600
RESULT_LABELS = {
    "found": "Found: placed",
    "partial": "Partly found",
    "not_found": "Not found",
    "refused": "Refused",
    "error": "Failed",
}


@dataclass(frozen=True)
class ReconcileAttempt:
    """One reconciliation check as the order page shows it."""

    at: datetime
    result: str
    label: str
    found: int | None
    missing: int | None
    error: str


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


def reconcile_backoff(checks: int) -> timedelta:
    """Wait after the `checks`-th check: doubling from the base up to the cap, with jitter in
    [half, whole] so that orders spread out yet the number of checks stays bounded."""
    ceiling = min(
        reconcile_backoff_cap_seconds(),
        reconcile_backoff_seconds() * 2 ** max(checks - 1, 0),
    )
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # noqa: S311 - spacing, not secrets


def _check_claim(order: Order, attempt: uuid.UUID) -> bool:
    """Take the order's due check (one conditional UPDATE): False when it is not due yet or
    another worker is checking it."""
    now = timezone.now()
    return bool(
        Order.objects.filter(
            Q(next_reconcile_at__isnull=True) | Q(next_reconcile_at__lte=now),
            pk=order.pk,
            status=OrderStatus.UNKNOWN,
            submission_attempt_id=attempt,
        ).update(next_reconcile_at=now + timedelta(seconds=RECONCILE_LEASE_SECONDS))
    )


def order_reconcile(
    *, order: Order, client: InstantlyClient | None = None, only_if_due: bool = False
) -> Order:
    """One check of an `unknown` outcome on Instantly's list endpoints (reads only, never a
    POST). docs/lifecycle-bounds.md.

    Every check counts and is recorded, whatever it met: everything found (→ `placed`), part
    or nothing found, a refused read (key revoked, no plan, no key) or a transient failure
    (5xx, 429, timeout). The next check waits longer each time (`reconcile_backoff`); after
    `DFY_RECONCILE_MAX_CHECKS` checks or `DFY_RECONCILE_MAX_AGE_SECONDS` since the attempt
    started, the order goes to `needs_attention` with the reason in plain words.
    With `only_if_due` (the task), nothing happens unless the order's next check is due.
    Other statuses are left alone.
    """
    attempt = order.submission_attempt_id
    if (
        order.status != OrderStatus.UNKNOWN
        or order.attempt_started_at is None
        or attempt is None
    ):
        return order
    if only_if_due and not _check_claim(order, attempt):
        order.refresh_from_db()
        return order
    endpoint, wanted = _wanted(order)
    since = order.attempt_started_at - timedelta(seconds=reconcile_clock_skew_seconds())
    found: set[str] = set()
    error = ""
    try:
        if client is None:
            with instantly_keys.instantly_client_for(
                workspace=order.workspace
            ) as built:
                found = _found_since(built, endpoint, wanted, since)
        else:
            found = _found_since(client, endpoint, wanted, since)
    except InstantlyTransientError as exc:
        result, error = "error", f"Instantly's lists failed: {exc}"
    except (
        InstantlyError,
        instantly_keys.InstantlyKeyMissing,
        crypto.SecretUnreadable,
    ) as exc:
        result, error = "refused", f"Instantly's lists could not be read: {exc}"
    else:
        if wanted and found == wanted:
            result = "found"
        else:
            result = "partial" if found else "not_found"
    return _reconcile_record(
        order, attempt, endpoint, wanted, found, since, result, error
    )


@transaction.atomic
def _reconcile_record(
    order: Order,
    attempt: uuid.UUID,
    endpoint: str,
    wanted: set[str],
    found: set[str],
    since: datetime,
    result: str,
    error: str = "",
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.UNKNOWN])
    if locked is None:
        order.refresh_from_db()
        return order
    now = timezone.now()
    checks = locked.reconcile_checks + 1
    previous: dict[str, Any] = (
        locked.reconcile_evidence if isinstance(locked.reconcile_evidence, dict) else {}
    )
    tally: dict[str, int] = dict(previous.get("tally") or {})
    tally[result] = tally.get(result, 0) + 1
    read = result not in {"error", "refused"}
    evidence: dict[str, Any] = {
        "endpoint": endpoint,
        "checks": checks,
        "since": since.isoformat(),
        "checked_at": now.isoformat(),
        "result": result,
        "tally": tally,
        # A failed check knows nothing new: keep what the last successful read showed.
        "found": sorted(found) if read else previous.get("found", []),
        "missing": sorted(wanted - found) if read else previous.get("missing", []),
        "read_at": now.isoformat() if read else previous.get("read_at"),
    }
    if error:
        evidence["error"] = error
    locked.reconcile_checks = checks
    locked.reconcile_evidence = evidence
    locked.last_reconciled_at = now
    fields = ["reconcile_checks", "reconcile_evidence", "last_reconciled_at"]
    if result == "found":
        locked.next_reconcile_at = None
        return mark_placed(
            locked,
            by=None,
            kind=EventKind.RECONCILED_PLACED,
            extra_fields=[*fields, "next_reconcile_at"],
            attempt_id=str(attempt),
            **evidence,
        )
    deadline = (locked.attempt_started_at or now) + timedelta(
        seconds=reconcile_max_age_seconds()
    )
    concluded = checks >= reconcile_max_checks() or now >= deadline
    # No check is planned past the deadline: the sweeper concludes there (bounds.py).
    next_at = None if concluded else min(now + reconcile_backoff(checks), deadline)
    lifecycle.order_event_record(
        order=locked,
        by=None,
        kind=EventKind.RECONCILE_CHECK,
        from_status=locked.status,
        to_status=locked.status,
        attempt_id=str(attempt),
        check=checks,
        checked_at=now.isoformat(),
        result=result,
        found_count=len(found) if read else None,
        missing_count=len(wanted - found) if read else None,
        error=error,
        next_at=next_at.isoformat() if next_at else None,
    )
    if concluded:
        return bounds.order_to_attention(
            locked,
            reason=bounds.unknown_reason(locked),
            fields=fields,
            now=now,
            attempt_id=str(attempt),
            bound="unknown_max_checks" if now < deadline else "unknown_max_age",
            **evidence,
        )
    locked.next_reconcile_at = next_at
    locked.save(update_fields=[*fields, "next_reconcile_at", "updated_at"])
    return locked


def reconcile_attempts(order: Order, *, limit: int = 50) -> list[ReconcileAttempt]:
    """The order's latest reconciliation checks, newest first, for its page."""
    rows = order.events.filter(
        kind__in=[EventKind.RECONCILE_CHECK, EventKind.RECONCILED_PLACED]
    ).order_by("-created_at", "-pk")[:limit]
    attempts = []
    for event in rows:
        detail = event.detail if isinstance(event.detail, dict) else {}
        result = str(
            detail.get(
                "result", "found" if event.kind != EventKind.RECONCILE_CHECK else ""
            )
        )
        found = detail.get("found_count", len(detail.get("found", []) or []))
        missing = detail.get("missing_count", len(detail.get("missing", []) or []))
        attempts.append(
            ReconcileAttempt(
                at=event.created_at,
                result=result,
                label=RESULT_LABELS.get(result, result.replace("_", " ").capitalize()),
                found=found if isinstance(found, int) else None,
                missing=missing if isinstance(missing, int) else None,
                error=str(detail.get("error") or ""),
            )
        )
    return attempts


# --- A person resolves what the machine could not -------------------------------------------


@transaction.atomic
def order_mark_placed(*, order: Order, by: User, comment: str = "") -> Order:
    """A lead saw the order at Instantly (billing page): record it as placed."""
    locked = lifecycle.order_lock(order, with_workspace=True)
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
        kind=EventKind.MARKED_PLACED,
        comment=comment.strip(),
        evidence=locked.reconcile_evidence,
    )


@transaction.atomic
def order_resubmit(*, order: Order, by: User, comment: str = "") -> Order:
    """Send a failed or unresolved order again as a new approved attempt (the worker claims
    it with a new attempt id and re-quotes first). Needs someone who could approve it."""
    locked = lifecycle.order_lock(order, with_workspace=True)
    if locked.status not in RESOLVABLE:
        raise WorkflowError(
            f"This order is {locked.get_status_display().lower()}; only a failed order, one "
            "that needs attention or one awaiting payment at Instantly can be re-submitted."
        )
    membership = _membership(by, locked.workspace)
    quote = locked.approved_quote
    reasons: list[str] = []
    if membership is None or not membership.is_lead:
        reasons.append("Only a lead or a workspace admin can re-submit an order.")
    elif conflicts := four_eyes_conflicts(order=locked, user_id=by.pk):
        reasons.extend(conflicts)
        reasons.append(
            "Four-eyes rule: a lead who neither submitted nor edited it must re-submit it."
        )
    elif quote is not None and not membership.may_approve_amount(quote.due_now):
        reasons.append(f"${quote.due_now:,.2f} is above your approval limit.")
    if reasons:
        raise ApprovalRefused(" ".join(reasons))
    changes: dict[str, Any] = {
        "approver": by,
        "decided_by": by,
        "decided_at": timezone.now(),
        "placement_tries": 0,
        "refusal": {},
        "finished_at": None,
    }
    if locked.status == OrderStatus.AWAITING_CHECKOUT:
        # The checkout instructions are done with once a person tries again.
        changes["attention_reason"] = ""
    locked = lifecycle.order_transition(
        locked,
        OrderStatus.APPROVED,
        kind=EventKind.RESUBMITTED,
        by=by,
        changes=changes,
        previous_attempt_id=str(locked.submission_attempt_id or ""),
        comment=comment.strip(),
        evidence=locked.reconcile_evidence,
    )
    enqueue.place_order(order_id=locked.pk)
    return locked


# --- The sweeper --------------------------------------------------------------------------


def orders_sweep() -> dict[str, int]:
    """Find what lost messages and crashes left behind, and what outlived its bound (run by
    beat; idempotent; docs/lifecycle-bounds.md):
    - `submitting` past the bound: a worker died between claim and outcome → `unknown`;
    - any status past its bound: a person is told once (`bounds.orders_flag_overdue`);
    - `approved` untouched for a while: re-enqueue placement (the claim makes duplicates safe);
    - `unknown` whose next check is due (backoff): enqueue one reconciliation check each;
    - placed/provisioning orders without progress for `DFY_STUCK_AFTER_HOURS`: flag stuck.
    """
    now = timezone.now()
    stranded = 0
    for pk, attempt in Order.objects.filter(
        status=OrderStatus.SUBMITTING,
        attempt_started_at__lt=now - timedelta(seconds=submitting_stale_seconds()),
    ).values_list("pk", "submission_attempt_id")[:SWEEP_BATCH_SIZE]:
        stranded += _mark_stranded(pk, attempt)

    overdue = bounds.orders_flag_overdue(now=now)

    approved = list(
        Order.objects.filter(
            status=OrderStatus.APPROVED,
            updated_at__lt=now - timedelta(seconds=approved_stale_seconds()),
        ).values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    for pk in approved:
        enqueue.place_order(order_id=pk)

    unknown = list(
        Order.objects.filter(
            Q(next_reconcile_at__isnull=True) | Q(next_reconcile_at__lte=now),
            status=OrderStatus.UNKNOWN,
        )
        .order_by(F("next_reconcile_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH_SIZE]
    )
    for pk in unknown:
        enqueue.reconcile_order(order_id=pk)

    stuck = fulfilment.orders_flag_stuck(now=now)
    if approved or stranded or unknown or stuck or overdue:
        logger.info(
            "sweep: %s re-enqueued, %s stranded, %s reconciling, %s stuck, %s overdue",
            len(approved),
            stranded,
            len(unknown),
            stuck,
            overdue,
        )
    return {
        "requeued": len(approved),
        "stranded": stranded,
        "reconciling": len(unknown),
        "stuck": stuck,
        "overdue": overdue,
    }


@transaction.atomic
def _mark_stranded(pk: int, attempt: uuid.UUID | None) -> int:
    locked = lifecycle.order_lock_first(
        Order.objects.select_for_update().filter(
            pk=pk, status=OrderStatus.SUBMITTING, submission_attempt_id=attempt
        )
    )
    if locked is None:
        return 0
    message = (
        "The worker stopped between claiming the order and recording Instantly's answer; "
        "the order may have been placed. Checking Instantly's lists."
    )
    lifecycle.order_transition(
        locked,
        OrderStatus.UNKNOWN,
        kind=EventKind.STRANDED,
        changes={"attention_reason": message},
        attempt_id=str(attempt),
        started_at=locked.attempt_started_at.isoformat()
        if locked.attempt_started_at
        else None,
    )
    return 1
