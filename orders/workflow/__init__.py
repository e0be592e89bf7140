"""The money path (docs/architecture.md): approval, the one claimed placement, outcomes, reconciliation
and the sweeper that finds what a lost message or a killed worker left behind.

The package is split by step (approval, placement, reconciliation); callers use the names
re-exported here. Safety rules it keeps:
- Approval binds to the frozen quote; the worker re-simulates and buys only when the payload
  fingerprint, validity and totals equal it (else `needs_reapproval`, with the difference).
- One conditional UPDATE claims `approved → submitting` and commits before any HTTP call, so
  duplicate or concurrent tasks cannot both reach the POST.
- `InstantlyClient.place_order` is called in exactly one place, once per claim, never retried.
  An unknown outcome goes to `unknown` and is settled only by reading the list endpoints.
- Every transition goes through orders/lifecycle.py and, like every money-capable call,
  writes an OrderEvent. No transaction is held across an HTTP call.
"""

from __future__ import annotations

from orders.workflow.approval import (
    ApprovalCheck,
    BudgetCheck,
    approval_check,
    budget_check,
    committed_monthly_spend,
    four_eyes_conflicts,
    order_approve,
    order_editors,
    order_policy_apply,
    order_reject,
    pending_approvals_for,
)
from orders.workflow.bounds import orders_flag_overdue
from orders.workflow.common import (
    REFUSAL_LISTS,
    RESOLVABLE,
    SWEEP_BATCH_SIZE,
    ZERO,
    ApprovalRefused,
    WorkflowError,
    approved_max_seconds,
    approved_stale_seconds,
    needs_reapproval_remind_seconds,
    pending_approval_remind_seconds,
    place_max_tries,
    reconcile_backoff_cap_seconds,
    reconcile_backoff_seconds,
    reconcile_clock_skew_seconds,
    reconcile_max_age_seconds,
    reconcile_max_checks,
    submitting_stale_seconds,
)
from orders.workflow.placement import (
    ERROR_WORDS,
    OUTCOME_FROM,
    PAYMENT_WORDS,
    order_place,
)
from orders.workflow.reconciliation import (
    ReconcileAttempt,
    order_mark_placed,
    order_reconcile,
    order_resubmit,
    orders_sweep,
    reconcile_attempts,
    reconcile_backoff,
)

__all__ = [
    "ApprovalCheck",
    "ApprovalRefused",
    "ReconcileAttempt",
    "BudgetCheck",
    "ERROR_WORDS",
    "OUTCOME_FROM",
    "PAYMENT_WORDS",
    "REFUSAL_LISTS",
    "RESOLVABLE",
    "SWEEP_BATCH_SIZE",
    "WorkflowError",
    "ZERO",
    "approval_check",
    "approved_max_seconds",
    "approved_stale_seconds",
    "budget_check",
    "committed_monthly_spend",
    "four_eyes_conflicts",
    "order_approve",
    "order_editors",
    "order_mark_placed",
    "order_place",
    "order_policy_apply",
    "order_reconcile",
    "needs_reapproval_remind_seconds",
    "order_reject",
    "order_resubmit",
    "orders_flag_overdue",
    "orders_sweep",
    "pending_approval_remind_seconds",
    "pending_approvals_for",
    "place_max_tries",
    "reconcile_attempts",
    "reconcile_backoff",
    "reconcile_backoff_cap_seconds",
    "reconcile_backoff_seconds",
    "reconcile_clock_skew_seconds",
    "reconcile_max_age_seconds",
    "reconcile_max_checks",
    "submitting_stale_seconds",
]
