"""Approval: who may approve what, the workspace policy and its monthly budget."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders import enqueue, lifecycle
from orders.lifecycle import EventKind, Notice
from orders.models import (
    AWAITING_DECISION_STATUSES,
    ApprovalPolicy,
    Membership,
    Order,
    OrderEdit,
    OrderEvent,
    OrderStatus,
    Role,
    Workspace,
)
from orders.quotes import cents
from orders.workflow.common import (
    ZERO,
    ApprovalRefused,
    WorkflowError,
    _membership,
)

logger = logging.getLogger(__name__)


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


# --- Four-eyes: who took part in the contents being decided ----------------------------------

# Events that decide an order. The edits that count are those made after the latest decision
# taken before the current submission: an approval after it (the one a price drift or a failed
# attempt sends back) decided these same contents, so it does not clear their editors.
DECISION_KINDS = (
    EventKind.APPROVED,
    EventKind.AUTO_APPROVED,
    EventKind.REJECTED,
    EventKind.RESUBMITTED,
)

# Per order: editor's user id → the versions their saves produced, oldest first.
Editors = Mapping[int, Sequence[int]]


def order_editors(order_ids: Iterable[int]) -> dict[int, dict[int, list[int]]]:
    """Who changed each order's contents since it was last decided, in one query."""
    last_decision = (
        OrderEvent.objects.filter(
            order_id=OuterRef("order_id"),
            kind__in=DECISION_KINDS,
            created_at__lt=OuterRef("order__submitted_at"),
        )
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    rows = (
        OrderEdit.objects.filter(order_id__in=list(order_ids))
        .annotate(boundary=Subquery(last_decision))
        .filter(Q(boundary__isnull=True) | Q(created_at__gt=F("boundary")))
        .order_by("created_at", "pk")
        .values_list("order_id", "editor_id", "version")
    )
    editors: dict[int, dict[int, list[int]]] = {}
    for order_id, editor_id, version in rows:
        editors.setdefault(order_id, {}).setdefault(editor_id, []).append(version)
    return editors


def _versions(versions: Sequence[int]) -> str:
    numbers = [str(v) for v in sorted(set(versions))]
    if len(numbers) == 1:
        return f"version {numbers[0]}"
    return f"versions {', '.join(numbers[:-1])} and {numbers[-1]}"


def four_eyes_conflicts(
    *, order: Order, user_id: int, editors: Editors | None = None
) -> list[str]:
    """Why this person took part in what is to be decided, in their own terms; empty when
    they did not (or the workspace lets leads approve their own orders)."""
    if order.workspace.allow_self_approval:
        return []
    if editors is None:
        editors = order_editors([order.pk]).get(order.pk, {})
    conflicts = []
    if order.submitted_by_id == user_id:
        conflicts.append("You submitted this order.")
    if user_id in editors:
        conflicts.append(f"You edited this order ({_versions(editors[user_id])}).")
    return conflicts


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
    editors: Editors | None = None,
) -> ApprovalCheck:
    """May this member approve this order now? Every reason against it, in plain words.

    `editors` (from `order_editors`) saves a query per order when checking many."""
    budget = budget_check(order=order, committed=committed)
    reasons: list[str] = []
    quote = order.approved_quote
    if order.status not in AWAITING_DECISION_STATUSES:
        reasons.append(
            f"This order is {order.get_status_display().lower()}, not waiting for approval."
        )
    if membership is None or not membership.is_lead:
        reasons.append("Only a lead or a workspace admin can approve orders.")
    elif conflicts := four_eyes_conflicts(
        order=order, user_id=membership.user_id, editors=editors
    ):
        reasons.extend(conflicts)
        reasons.append(
            "Four-eyes rule: a lead who neither submitted nor edited it must approve it."
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


# --- Approval ---------------------------------------------------------------------------


@transaction.atomic
def order_approve(
    *, order: Order, by: User, comment: str = "", quote_id: int | None = None
) -> Order:
    """Approve the frozen quote and enqueue placement on commit.

    Raises ApprovalRefused (role, four-eyes, limit, budget, invalid quote) or WorkflowError
    when `quote_id` (the quote the approver saw) is no longer the order's quote.
    """
    locked = lifecycle.order_lock(order, with_workspace=True)
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
        kind=EventKind.APPROVED,
        budget=check.budget,
    )


def _approve(
    locked: Order,
    *,
    by: User | None,
    comment: str,
    kind: EventKind,
    budget: BudgetCheck,
) -> Order:
    quote = locked.approved_quote
    if quote is None:
        raise WorkflowError("There is no quote to approve.")
    locked = lifecycle.order_transition(
        locked,
        OrderStatus.APPROVED,
        kind=kind,
        by=by,
        changes={
            "approver": by,
            "decided_by": by,
            "decided_at": timezone.now(),
            "decision_comment": comment,
            "drift": {},
            "placement_tries": 0,
        },
        quote_id=quote.pk,
        due_now=str(quote.due_now),
        per_month=str(quote.per_month),
        fingerprint=quote.fingerprint,
        comment=comment,
        budget=budget.as_detail(),
    )
    enqueue.place_order(order_id=locked.pk)
    lifecycle.order_notify(order_id=locked.pk, notice=Notice.APPROVED)
    return locked


@transaction.atomic
def order_reject(*, order: Order, by: User, comment: str) -> Order:
    """Send the request back to its requester with the reason; they may revise and resubmit."""
    comment = comment.strip()
    if not comment:
        raise WorkflowError(
            "Say why the order is rejected; the requester will read it."
        )
    locked = lifecycle.order_lock(order, with_workspace=True)
    membership = _membership(by, locked.workspace)
    if membership is None or not membership.is_lead:
        raise ApprovalRefused("Only a lead or a workspace admin can reject orders.")
    if locked.status not in AWAITING_DECISION_STATUSES:
        raise WorkflowError(
            f"This order is {locked.get_status_display().lower()}, not waiting for approval."
        )
    return lifecycle.order_transition(
        locked,
        OrderStatus.REJECTED,
        kind=EventKind.REJECTED,
        by=by,
        changes={
            "decided_by": by,
            "decided_at": timezone.now(),
            "decision_comment": comment,
        },
        notify=Notice.REJECTED,
        comment=comment,
    )


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
                kind=EventKind.AUTO_APPROVED,
                budget=budget,
            )
        lifecycle.order_event_record(
            order=order,
            by=by,
            kind=EventKind.AUTO_APPROVAL_BLOCKED,
            from_status=order.status,
            to_status=order.status,
            reason=f"Over budget: {budget.summary()}",
            budget=budget.as_detail(),
        )
    lifecycle.order_notify(order_id=order.pk, notice=Notice.APPROVAL_REQUESTED)
    return order


def pending_approvals_for(*, membership: Membership | None) -> int:
    """The navigation's count: requests waiting in the member's workspace (leads only)."""
    if membership is None or not membership.has_role(Role.LEAD):
        return 0
    return Order.objects.in_workspace(membership.workspace).awaiting_decision().count()
