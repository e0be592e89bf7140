"""Shared pieces of the money path: its settings, its errors and the one way into `placed`.
Locks and moves go through orders/lifecycle.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from orders.lifecycle import (
    RESOLVABLE_STATUSES,
    EventKind,
    Notice,
    order_transition,
)
from orders.models import (
    Membership,
    Order,
    OrderStatus,
    Workspace,
)

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
# Rows the sweeper handles per run and state; the rest waits for the next beat.
SWEEP_BATCH_SIZE = 200
# A person may re-submit these as a new attempt (orders/lifecycle.py).
RESOLVABLE = RESOLVABLE_STATUSES
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


# The bounds are read at call time (tests override them) and their defaults live in
# dfyportal/settings.py only; docs/lifecycle-bounds.md.
def reconcile_max_checks() -> int:
    """Reconciliation checks of an unknown outcome (whatever each found, errors included)
    before a person is asked; docs/lifecycle-bounds.md."""
    return settings.DFY_RECONCILE_MAX_CHECKS


def reconcile_max_age_seconds() -> int:
    """An outcome still unknown this long after its attempt started goes to a person, even if
    checks could not run (worker down, lost messages)."""
    return settings.DFY_RECONCILE_MAX_AGE_SECONDS


def reconcile_backoff_seconds() -> int:
    """Wait after the first check; it doubles after each check, up to the cap."""
    return settings.DFY_RECONCILE_BACKOFF_SECONDS


def reconcile_backoff_cap_seconds() -> int:
    return settings.DFY_RECONCILE_BACKOFF_CAP_SECONDS


def pending_approval_remind_seconds() -> int:
    """A request undecided this long reminds its approvers once (the status stays)."""
    return settings.DFY_PENDING_APPROVAL_REMIND_SECONDS


def needs_reapproval_remind_seconds() -> int:
    """A changed quote undecided this long reminds its approvers once (the status stays)."""
    return settings.DFY_NEEDS_REAPPROVAL_REMIND_SECONDS


def awaiting_checkout_remind_seconds() -> int:
    """An order waiting for a payment at Instantly this long reminds its requester once (the
    status stays: only a person can add the card)."""
    return settings.DFY_AWAITING_CHECKOUT_REMIND_SECONDS


def approved_max_seconds() -> int:
    """An approval that no worker turned into a placement this long goes to a person."""
    return settings.DFY_APPROVED_MAX_SECONDS


def submitting_stale_seconds() -> int:
    """A claim older than this without an outcome was stranded by a crash. It must exceed the
    place task's hard time limit (180 s), which bounds the re-quote and the POST together."""
    return settings.DFY_SUBMITTING_STALE_SECONDS


def approved_stale_seconds() -> int:
    """An approved order untouched this long lost its task message: the sweeper re-enqueues."""
    return settings.DFY_APPROVED_STALE_SECONDS


def reconcile_clock_skew_seconds() -> int:
    """Tolerance between our clock and Instantly's when matching "created after the attempt"."""
    return settings.DFY_RECONCILE_CLOCK_SKEW_SECONDS


def place_max_tries() -> int:
    """Claims given back (nothing sent: 429, unreachable) before a person is asked."""
    return settings.DFY_PLACE_MAX_TRIES


class WorkflowError(Exception):
    """A workflow step that cannot be done now; the message is for the user."""


class ApprovalRefused(WorkflowError):
    """The person may not approve this order (role, four-eyes, limit, budget, quote)."""


def _membership(user: User, workspace: Workspace) -> Membership | None:
    return Membership.objects.filter(user=user, workspace=workspace).first()


def mark_placed(
    locked: Order,
    *,
    by: User | None,
    kind: str,
    extra_fields: Sequence[str] = (),
    **detail: object,
) -> Order:
    """The one way into `placed`, whoever learnt it (the worker's answer, reconciliation, a
    person): audit row, timestamps, cleared attention, notification after commit. The caller
    holds the row lock and may have set `extra_fields` on `locked` already."""
    now = timezone.now()
    return order_transition(
        locked,
        OrderStatus.PLACED,
        kind=EventKind(kind),
        by=by,
        changes={
            **{name: getattr(locked, name) for name in extra_fields},
            "placed_at": now,
            "last_progress_at": now,
            "attention_reason": "",
        },
        notify=Notice.PLACED,
        **detail,
    )
