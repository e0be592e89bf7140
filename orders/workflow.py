"""The money path (DESIGN §3): approval, the one claimed placement, outcomes, reconciliation
and the sweeper that finds what a lost message or a killed worker left behind.

Safety rules this module keeps:
- Approval binds to the frozen quote; the worker re-simulates and buys only when the payload
  fingerprint, validity and totals equal it (else `needs_reapproval`, with the difference).
- One conditional UPDATE claims `approved → submitting` and commits before any HTTP call, so
  duplicate or concurrent tasks cannot both reach the POST.
- `InstantlyClient.place_order` is called in exactly one place, once per claim, never retried.
  An unknown outcome goes to `unknown` and is settled only by reading the list endpoints.
- Every transition and every money-capable call writes an OrderEvent. No transaction is held
  across an HTTP call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders import crypto, fulfilment, notifications, services, tasks
from orders.drafts import order_event_record
from orders.instantly import (
    AUTH_FAILURES,
    InstantlyClient,
    InstantlyError,
    InstantlyTransientError,
    OrderResult,
    OutcomeUnknown,
    SimulationNotEchoed,
)
from orders.models import (
    AWAITING_DECISION_STATUSES,
    ApprovalPolicy,
    Membership,
    Order,
    OrderStatus,
    OrderType,
    Quote,
    Role,
    Workspace,
)
from orders.payload import fingerprint, order_payload
from orders.quotes import cents, quote_store

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
# Rows the sweeper handles per run and state; the rest waits for the next beat.
SWEEP_BATCH_SIZE = 200
RESOLVABLE = frozenset({OrderStatus.NEEDS_ATTENTION, OrderStatus.FAILED})
# Lists of the order answer that name what Instantly refused, shown as they came.
REFUSAL_LISTS = (
    "unavailable_domains",
    "blacklist_domains",
    "blacklist_keywords",
    "invalid_domains",
    "invalid_forwarding_domains",
    "missing_domain_orders",
    "provider_mismatch_domains",
    "unsupported_provider_domains",
    "unavailable_email_providers",
    "domains_without_accounts",
)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def reconcile_max_checks() -> int:
    """List-endpoint checks of an unknown outcome before a person is asked."""
    return _setting("DFY_RECONCILE_MAX_CHECKS", 6)


def submitting_stale_seconds() -> int:
    """A claim older than this without an outcome was stranded by a crash. It must exceed the
    place task's hard time limit (180 s), which bounds the re-quote and the POST together."""
    return _setting("DFY_SUBMITTING_STALE_SECONDS", 300)


def approved_stale_seconds() -> int:
    """An approved order untouched this long lost its task message: the sweeper re-enqueues."""
    return _setting("DFY_APPROVED_STALE_SECONDS", 120)


def reconcile_clock_skew_seconds() -> int:
    """Tolerance between our clock and Instantly's when matching "created after the attempt"."""
    return _setting("DFY_RECONCILE_CLOCK_SKEW_SECONDS", 300)


def place_max_tries() -> int:
    """Claims given back (nothing sent: 429, unreachable) before a person is asked."""
    return _setting("DFY_PLACE_MAX_TRIES", 5)


class WorkflowError(Exception):
    """A workflow step that cannot be done now; the message is for the user."""


class ApprovalRefused(WorkflowError):
    """The person may not approve this order (role, four-eyes, limit, budget, quote)."""


# --- Budget and approval checks -------------------------------------------------------------


@dataclass(frozen=True)
class BudgetCheck:
    """The workspace's monthly budget against the recurring cost of active orders plus one."""

    budget: Decimal | None
    committed: Decimal
    this_order: Decimal

    @property
    def total(self) -> Decimal:
        return self.committed + self.this_order

    @property
    def exceeded(self) -> bool:
        return self.budget is not None and self.total > self.budget

    @property
    def remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.committed

    def summary(self) -> str:
        sums = (
            f"${self.committed:,.2f}/month already committed + ${self.this_order:,.2f}/month "
            f"for this order = ${self.total:,.2f}/month"
        )
        if self.budget is None:
            return f"{sums}; no monthly budget is set."
        verdict = "over" if self.exceeded else "within"
        return f"{sums}, {verdict} the monthly budget of ${self.budget:,.2f}."

    def as_detail(self) -> dict[str, str | None]:
        return {
            "budget": None if self.budget is None else str(self.budget),
            "committed": str(self.committed),
            "this_order": str(self.this_order),
            "total": str(self.total),
        }


def committed_monthly_spend(
    *, workspace: Workspace, exclude: Order | None = None
) -> Decimal:
    """Recurring monthly cost of the workspace's active orders, from their approved quotes.

    Partially cancelled orders count in full: conservative, since Instantly's per-domain prices
    (Microsoft) make a per-mailbox share wrong."""
    rows = Order.objects.in_workspace(workspace).committed_spend()
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    total = rows.aggregate(total=Coalesce(Sum("approved_quote__per_month"), ZERO))[
        "total"
    ]
    return cents(Decimal(total))


def budget_check(*, order: Order, committed: Decimal | None = None) -> BudgetCheck:
    quote = order.approved_quote
    if committed is None:
        committed = committed_monthly_spend(workspace=order.workspace, exclude=order)
    return BudgetCheck(
        budget=order.workspace.monthly_budget,
        committed=committed,
        this_order=quote.per_month if quote is not None else ZERO,
    )


@dataclass(frozen=True)
class ApprovalCheck:
    allowed: bool
    reasons: tuple[str, ...]
    budget: BudgetCheck


def approval_check(
    *,
    order: Order,
    membership: Membership | None,
    committed: Decimal | None = None,
) -> ApprovalCheck:
    """May this member approve this order now? Every reason against it, in plain words."""
    budget = budget_check(order=order, committed=committed)
    reasons: list[str] = []
    quote = order.approved_quote
    if order.status not in AWAITING_DECISION_STATUSES:
        reasons.append(
            f"This order is {order.get_status_display().lower()}, not waiting for approval."
        )
    if membership is None or not membership.is_lead:
        reasons.append("Only a lead or a workspace admin can approve orders.")
    elif (
        order.requester_id == membership.user_id
        and not order.workspace.allow_self_approval
    ):
        reasons.append(
            "Four-eyes rule: you cannot approve your own order; another lead must."
        )
    if quote is None:
        reasons.append("There is no quote to approve.")
    else:
        if not quote.is_valid:
            reasons.append(
                "Instantly's latest simulation refuses this order; it must be edited first."
            )
        if (
            membership is not None
            and membership.is_lead
            and not membership.may_approve_amount(quote.due_now)
        ):
            reasons.append(
                f"${quote.due_now:,.2f} is above your approval limit of "
                f"${membership.approval_limit:,.2f}."
            )
    if budget.exceeded:
        reasons.append(f"Over budget: {budget.summary()}")
    return ApprovalCheck(allowed=not reasons, reasons=tuple(reasons), budget=budget)


def _membership(user: User, workspace: Workspace) -> Membership | None:
    return Membership.objects.filter(user=user, workspace=workspace).first()


def _lock(order: Order) -> Order:
    """The order row locked, then its workspace row: always in this order, so two approvals
    in one workspace serialize (the budget sees every committed order) without deadlocks."""
    locked = (
        Order.objects.select_for_update(of=("self",))
        .select_related("approved_quote")
        .get(pk=order.pk)
    )
    locked.workspace = Workspace.objects.select_for_update().get(pk=locked.workspace_id)
    return locked


# --- Approval ---------------------------------------------------------------------------


@transaction.atomic
def order_approve(
    *, order: Order, by: User, comment: str = "", quote_id: int | None = None
) -> Order:
    """Approve the frozen quote and enqueue placement on commit.

    Raises ApprovalRefused (role, four-eyes, limit, budget, invalid quote) or WorkflowError
    when `quote_id` (the quote the approver saw) is no longer the order's quote.
    """
    locked = _lock(order)
    check = approval_check(order=locked, membership=_membership(by, locked.workspace))
    if not check.allowed:
        raise ApprovalRefused(" ".join(check.reasons))
    if quote_id is not None and quote_id != locked.approved_quote_id:
        raise WorkflowError(
            "The quote changed since this page was loaded; check the new price and approve again."
        )
    return _approve(
        locked,
        by=by,
        comment=comment.strip(),
        kind="approved",
        budget=check.budget,
    )


def _approve(
    locked: Order,
    *,
    by: User | None,
    comment: str,
    kind: str,
    budget: BudgetCheck,
) -> Order:
    quote = locked.approved_quote
    if quote is None:
        raise WorkflowError("There is no quote to approve.")
    now = timezone.now()
    order_event_record(
        order=locked,
        by=by,
        kind=kind,
        from_status=locked.status,
        to_status=OrderStatus.APPROVED,
        quote_id=quote.pk,
        due_now=str(quote.due_now),
        per_month=str(quote.per_month),
        fingerprint=quote.fingerprint,
        comment=comment,
        budget=budget.as_detail(),
    )
    locked.status = OrderStatus.APPROVED
    locked.approver = by
    locked.decided_by = by
    locked.decided_at = now
    locked.decision_comment = comment
    locked.drift = {}
    locked.placement_tries = 0
    locked.save(
        update_fields=[
            "status",
            "approver",
            "decided_by",
            "decided_at",
            "decision_comment",
            "drift",
            "placement_tries",
            "updated_at",
        ]
    )
    tasks.place_order_task.delay_on_commit(order_id=locked.pk)
    notifications.order_notify(order=locked, event="approved")
    return locked


@transaction.atomic
def order_reject(*, order: Order, by: User, comment: str) -> Order:
    """Send the request back to its requester with the reason; they may revise and resubmit."""
    comment = comment.strip()
    if not comment:
        raise WorkflowError(
            "Say why the order is rejected; the requester will read it."
        )
    locked = _lock(order)
    membership = _membership(by, locked.workspace)
    if membership is None or not membership.is_lead:
        raise ApprovalRefused("Only a lead or a workspace admin can reject orders.")
    if locked.status not in AWAITING_DECISION_STATUSES:
        raise WorkflowError(
            f"This order is {locked.get_status_display().lower()}, not waiting for approval."
        )
    order_event_record(
        order=locked,
        by=by,
        kind="rejected",
        from_status=locked.status,
        to_status=OrderStatus.REJECTED,
        comment=comment,
    )
    locked.status = OrderStatus.REJECTED
    locked.decided_by = by
    locked.decided_at = timezone.now()
    locked.decision_comment = comment
    locked.save(
        update_fields=[
            "status",
            "decided_by",
            "decided_at",
            "decision_comment",
            "updated_at",
        ]
    )
    notifications.order_notify(order=locked, event="rejected")
    return locked


def order_policy_apply(*, order: Order, by: User) -> Order:
    """Right after submission (inside its transaction, `order` locked and pending approval):
    auto-approve when the workspace policy needs no approval for this amount and the budget
    allows it; otherwise tell the approvers a request waits."""
    workspace = Workspace.objects.select_for_update().get(pk=order.workspace_id)
    order.workspace = workspace
    quote = order.approved_quote
    if quote is None:
        raise WorkflowError("A submitted order needs its quote.")
    policy = workspace.approval_policy
    needs_person = policy == ApprovalPolicy.ALWAYS or (
        policy == ApprovalPolicy.ABOVE_AMOUNT
        and (
            workspace.approval_threshold is None
            or quote.due_now > workspace.approval_threshold
        )
    )
    if not needs_person:
        budget = budget_check(order=order)
        if not budget.exceeded:
            return _approve(
                order,
                by=None,
                comment=f"Auto-approved: {ApprovalPolicy(policy).label.lower()}.",
                kind="auto_approved",
                budget=budget,
            )
        order_event_record(
            order=order,
            by=by,
            kind="auto_approval_blocked",
            from_status=order.status,
            to_status=order.status,
            reason=f"Over budget: {budget.summary()}",
            budget=budget.as_detail(),
        )
    notifications.order_notify(order=order, event="approval_requested")
    return order


# --- Placement ----------------------------------------------------------------------------


def order_place(*, order: Order, client: InstantlyClient | None = None) -> Order:
    """Claim an approved order and place it at most once. Idempotent: anything but an
    `approved` order (already claimed, placed, reverted to draft) is left as it is.

    Never call inside a transaction: the claim must be committed before the first HTTP call
    (its atomic block is durable, so nesting fails loudly).
    """
    attempt = _claim(order)
    if attempt is None:
        logger.info(
            "place_order: order %s not approved any more; nothing to do", order.pk
        )
        order.refresh_from_db()
        return order
    order.refresh_from_db()
    if client is not None:
        return _place_claimed(order, attempt, client)
    try:
        built = services.instantly_client_for(workspace=order.workspace)
    except (services.InstantlyKeyMissing, crypto.SecretUnreadable) as exc:
        return _record_failed(
            order,
            attempt,
            refusal={
                "message": "The workspace has no usable Instantly API key: "
                f"{exc}. A workspace admin must add the key in Settings."
            },
        )
    with built:
        return _place_claimed(order, attempt, built)


def _claim(order: Order) -> uuid.UUID | None:
    attempt = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic(durable=True):
        claimed = Order.objects.filter(pk=order.pk, status=OrderStatus.APPROVED).update(
            status=OrderStatus.SUBMITTING,
            submission_attempt_id=attempt,
            attempt_started_at=now,
            reconcile_checks=0,
            reconcile_evidence={},
            last_reconciled_at=None,
            updated_at=now,
        )
        if not claimed:
            return None
        order_event_record(
            order=order,
            by=None,
            kind="claimed",
            from_status=OrderStatus.APPROVED,
            to_status=OrderStatus.SUBMITTING,
            attempt_id=str(attempt),
        )
    return attempt


def _quote_drift(quote: Quote, digest: str, result: OrderResult) -> dict[str, Any]:
    """What differs between the approved quote and the re-quote: {field: [approved, now]}."""
    drift: dict[str, Any] = {}
    if digest != quote.fingerprint:
        drift["fingerprint"] = [quote.fingerprint, digest]
    if result.order_is_valid is not quote.is_valid:
        drift["valid"] = [quote.is_valid, result.order_is_valid]
        if result.order_error:
            drift["order_error"] = ["", result.order_error]
    for name, now_value in (
        ("due_now", cents(result.total_price)),
        ("per_month", cents(result.total_price_per_month)),
        ("per_year", cents(result.total_price_per_year)),
        ("discount", cents(result.total_discount)),
    ):
        before: Decimal = getattr(quote, name)
        if before != now_value:
            drift[name] = [str(before), str(now_value)]
    return drift


def _place_claimed(order: Order, attempt: uuid.UUID, client: InstantlyClient) -> Order:
    quote = order.approved_quote
    if quote is None:
        return _record_failed(
            order, attempt, refusal={"message": "The order has no approved quote."}
        )
    payload = order_payload(order)
    digest = fingerprint(payload)
    try:
        requote = client.simulate_order(payload)
    except SimulationNotEchoed as exc:
        if exc.order_placed:
            # The "simulation" claims to have placed an order: money may have moved.
            return _record_unknown(order, attempt, str(exc), stage="requote")
        return _release(order, attempt, f"unusable re-quote: {exc}")
    except InstantlyTransientError as exc:
        return _release(order, attempt, f"re-quote failed: {exc}")
    except InstantlyError as exc:
        return _record_failed(order, attempt, refusal=_http_refusal(exc))

    drift = _quote_drift(quote, digest, requote)
    if drift:
        return _record_drift(order, attempt, payload, digest, requote, drift)

    order_event_record(
        order=order,
        by=None,
        kind="place_request",
        from_status=OrderStatus.SUBMITTING,
        to_status=OrderStatus.SUBMITTING,
        attempt_id=str(attempt),
        fingerprint=digest,
        due_now=str(quote.due_now),
    )
    # The only real order POST in the portal. Sent once; never retried from here.
    try:
        result = client.place_order(payload)
    except OutcomeUnknown as exc:
        return _record_unknown(order, attempt, str(exc), stage="place")
    except InstantlyTransientError as exc:
        if not exc.request_sent:
            return _release(order, attempt, f"not sent: {exc}")
        return _record_unknown(order, attempt, str(exc), stage="place")
    except InstantlyError as exc:
        return _record_failed(order, attempt, refusal=_http_refusal(exc))
    if result.order_placed:
        return _record_placed(order, attempt, result)
    return _record_failed(
        order, attempt, refusal=_order_refusal(result), raw_body=result.raw_body
    )


def _http_refusal(exc: InstantlyError) -> dict[str, Any]:
    plain = {
        401: "Instantly refused the API key (invalid or revoked).",
        402: "The Instantly workspace has no active paid plan.",
        403: "The API key lacks the scope to place DFY orders.",
    }
    message = plain.get(exc.status_code or 0, f"Instantly refused the request: {exc}")
    return {
        "message": message,
        "http_status": exc.status_code,
        "remote_message": exc.message,
        "key_problem": isinstance(exc, AUTH_FAILURES),
    }


PAYMENT_WORDS = {
    "payment_method_not_supported": "the card on file is not supported",
    "authentication_required": "the bank asks for authentication (3-D Secure)",
    "card_expired": "the card on file has expired",
    "generic_decline": "the card was declined",
}
ERROR_WORDS = {
    "unavailable_domains": "some domains cannot be bought any more",
    "blacklist_domains": "some domains contain restricted (trademark) keywords",
    "invalid_domains": "some domains are malformed or have an unsupported ending",
    "invalid_forwarding_domains": "some forwarding domains are invalid",
    "invalid_accounts": "some mailboxes are invalid",
    "payment_failed": "the payment did not go through",
    "missing_domain_orders": "extra mailboxes were asked for on domains never ordered",
    "domains_without_accounts": "some domains have no mailboxes",
    "provider_mismatch": "a domain already uses another mailbox provider",
    "unsupported_provider": "the domain's provider does not take extra mailboxes",
    "provider_unavailable": "a mailbox provider is not available right now",
}


def _order_refusal(result: OrderResult) -> dict[str, Any]:
    error = result.order_error or ""
    words = ERROR_WORDS.get(error, error or "Instantly did not place the order")
    if error == "payment_failed" and result.payment_failure_reason:
        reason = result.payment_failure_reason
        words = f"{words}: {PAYMENT_WORDS.get(reason, reason)}"
    if result.checkout_required and not error:
        words = "Instantly asks for a hosted checkout, which the API cannot complete"
    lists: dict[str, list[Any]] = {
        name: list(getattr(result, name))
        for name in REFUSAL_LISTS
        if getattr(result, name)
    }
    return {
        "message": f"Instantly refused the order: {words}.",
        "order_error": error,
        "payment_failure_reason": result.payment_failure_reason or "",
        "lists": lists,
        "invalid_accounts": [
            {"email": a.email, "reason": a.reason} for a in result.invalid_accounts
        ],
    }


def _locked_attempt(
    order: Order, attempt: uuid.UUID, statuses: Iterable[str]
) -> Order | None:
    """The row locked if it still belongs to this attempt and is in one of `statuses`."""
    return (
        Order.objects.select_for_update()
        .filter(pk=order.pk, submission_attempt_id=attempt, status__in=list(statuses))
        .first()
    )


# An outcome of a sent POST is accepted while the attempt is current, even if the sweeper
# already moved the row on: what Instantly answered beats what we guessed.
OUTCOME_FROM = (
    OrderStatus.SUBMITTING,
    OrderStatus.UNKNOWN,
    OrderStatus.NEEDS_ATTENTION,
)


def _late(order: Order, attempt: uuid.UUID, kind: str, **detail: object) -> Order:
    """An outcome for an attempt that is no longer current: keep it on the record loudly."""
    logger.warning("order %s: %s for a superseded attempt %s", order.pk, kind, attempt)
    order_event_record(
        order=order,
        by=None,
        kind=f"late_{kind}",
        attempt_id=str(attempt),
        outcome=detail,
    )
    order.refresh_from_db()
    return order


@transaction.atomic
def _record_placed(order: Order, attempt: uuid.UUID, result: OrderResult) -> Order:
    locked = _locked_attempt(order, attempt, OUTCOME_FROM)
    if locked is None:
        return _late(order, attempt, "placed", response=result.raw_body[:2000])
    now = timezone.now()
    order_event_record(
        order=locked,
        by=None,
        kind="placed",
        from_status=locked.status,
        to_status=OrderStatus.PLACED,
        attempt_id=str(attempt),
        total_price=str(cents(result.total_price)),
        domains=result.number_of_domains_ordered,
        mailboxes=result.number_of_accounts_ordered,
    )
    locked.status = OrderStatus.PLACED
    locked.placement_response = result.raw_body
    locked.placed_at = now
    locked.last_progress_at = now
    locked.attention_reason = ""
    locked.save(
        update_fields=[
            "status",
            "placement_response",
            "placed_at",
            "last_progress_at",
            "attention_reason",
            "updated_at",
        ]
    )
    notifications.order_notify(order=locked, event="placed")
    return locked


@transaction.atomic
def _record_failed(
    order: Order,
    attempt: uuid.UUID,
    *,
    refusal: dict[str, Any],
    raw_body: str = "",
) -> Order:
    locked = _locked_attempt(order, attempt, OUTCOME_FROM)
    if locked is None:
        return _late(order, attempt, "failed", refusal=refusal)
    order_event_record(
        order=locked,
        by=None,
        kind="failed",
        from_status=locked.status,
        to_status=OrderStatus.FAILED,
        attempt_id=str(attempt),
        **refusal,
    )
    locked.status = OrderStatus.FAILED
    locked.refusal = refusal
    locked.finished_at = timezone.now()
    fields = ["status", "refusal", "finished_at", "updated_at"]
    if raw_body:
        locked.placement_response = raw_body
        fields.append("placement_response")
    locked.save(update_fields=fields)
    notifications.order_notify(order=locked, event="failed")
    return locked


@transaction.atomic
def _record_unknown(
    order: Order, attempt: uuid.UUID, message: str, *, stage: str
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "unknown", message=message)
    order_event_record(
        order=locked,
        by=None,
        kind="outcome_unknown",
        from_status=locked.status,
        to_status=OrderStatus.UNKNOWN,
        attempt_id=str(attempt),
        stage=stage,
        message=message,
    )
    locked.status = OrderStatus.UNKNOWN
    locked.attention_reason = message
    locked.save(update_fields=["status", "attention_reason", "updated_at"])
    tasks.reconcile_order_task.delay_on_commit(order_id=locked.pk)
    return locked


@transaction.atomic
def _record_drift(
    order: Order,
    attempt: uuid.UUID,
    payload: dict[str, Any],
    digest: str,
    requote: OrderResult,
    drift: dict[str, Any],
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "drift", drift=drift)
    previous = locked.approved_quote_id
    new_quote = quote_store(
        order=locked, payload=payload, digest=digest, result=requote
    )
    detail = {**drift, "previous_quote_id": previous, "quote_id": new_quote.pk}
    order_event_record(
        order=locked,
        by=None,
        kind="requote_drift",
        from_status=locked.status,
        to_status=OrderStatus.NEEDS_REAPPROVAL,
        attempt_id=str(attempt),
        **detail,
    )
    locked.status = OrderStatus.NEEDS_REAPPROVAL
    # The new quote is what a lead approves next; the old one stays in `drift` and events.
    locked.approved_quote = new_quote
    locked.drift = detail
    locked.approver = None
    locked.save(
        update_fields=["status", "approved_quote", "drift", "approver", "updated_at"]
    )
    notifications.order_notify(order=locked, event="needs_reapproval")
    return locked


@transaction.atomic
def _release(order: Order, attempt: uuid.UUID, reason: str) -> Order:
    """Nothing reached Instantly: give the claim back so a later run tries again, or ask a
    person after too many tries. Safe because no real order POST was sent for this claim."""
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "release", reason=reason)
    tries = locked.placement_tries + 1
    if tries >= place_max_tries():
        message = (
            f"Instantly could not be reached to place the order after {tries} tries "
            f"(last: {reason}). Nothing was sent; re-submit when Instantly answers again."
        )
        order_event_record(
            order=locked,
            by=None,
            kind="needs_attention",
            from_status=locked.status,
            to_status=OrderStatus.NEEDS_ATTENTION,
            attempt_id=str(attempt),
            reason=message,
        )
        locked.status = OrderStatus.NEEDS_ATTENTION
        locked.attention_reason = message
        locked.reconcile_evidence = {"nothing_sent": True, "tries": tries}
        locked.placement_tries = tries
        locked.save(
            update_fields=[
                "status",
                "attention_reason",
                "reconcile_evidence",
                "placement_tries",
                "updated_at",
            ]
        )
        notifications.order_notify(order=locked, event="needs_attention")
        return locked
    order_event_record(
        order=locked,
        by=None,
        kind="claim_released",
        from_status=locked.status,
        to_status=OrderStatus.APPROVED,
        attempt_id=str(attempt),
        reason=reason,
        tries=tries,
    )
    locked.status = OrderStatus.APPROVED
    locked.placement_tries = tries
    locked.save(update_fields=["status", "placement_tries", "updated_at"])
    return locked


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
        order_event_record(
            order=locked,
            by=None,
            kind="reconciled_placed",
            from_status=locked.status,
            to_status=OrderStatus.PLACED,
            attempt_id=str(attempt),
            **evidence,
        )
        locked.status = OrderStatus.PLACED
        locked.placed_at = now
        locked.last_progress_at = now
        locked.attention_reason = ""
        locked.save(
            update_fields=[
                *fields,
                "status",
                "placed_at",
                "last_progress_at",
                "attention_reason",
            ]
        )
        notifications.order_notify(order=locked, event="placed")
        return locked
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
    now = timezone.now()
    order_event_record(
        order=locked,
        by=by,
        kind="marked_placed",
        from_status=locked.status,
        to_status=OrderStatus.PLACED,
        comment=comment.strip(),
        evidence=locked.reconcile_evidence,
    )
    locked.status = OrderStatus.PLACED
    locked.placed_at = now
    locked.last_progress_at = now
    locked.attention_reason = ""
    locked.save(
        update_fields=[
            "status",
            "placed_at",
            "last_progress_at",
            "attention_reason",
            "updated_at",
        ]
    )
    notifications.order_notify(order=locked, event="placed")
    return locked


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


def pending_approvals_for(*, membership: Membership | None) -> int:
    """The navigation's count: requests waiting in the member's workspace (leads only)."""
    if membership is None or not membership.has_role(Role.LEAD):
        return 0
    return Order.objects.in_workspace(membership.workspace).awaiting_decision().count()
