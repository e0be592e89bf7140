"""The order lifecycle in one place: its statuses, the moves between them, the kinds of audit
event, and the functions every status change and every audit row goes through.

A move locks the order row (unless `order_lock` already did in this transaction), checks it
against `TRANSITIONS`, records an `OrderEvent`, writes the status with the fields that move
with it, and queues its notification for after the commit. tests/orders/test_lifecycle_ast.py
walks the project and fails on any other write of an order's status or creation of an event;
docs/architecture.md renders `TRANSITIONS` (a test keeps the page equal to this table).

This module sits below the models: `orders/models` take their status choices and status sets
from here, so it imports no model at import time. It reaches the rows through the instances
it is given (`order.events`, `type(order).objects`) and the Order model (and the dashboard's
tallies, which follow orders in and out of the bought statuses) through the app registry,
which is the documented way out of such a cycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from django.apps import apps
from django.db import models, transaction

from orders import enqueue

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

    from orders.models import MailboxTally, Order, OrderEvent


class OrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    REJECTED = "rejected", "Rejected"
    APPROVED = "approved", "Approved, queued"
    NEEDS_REAPPROVAL = "needs_reapproval", "Price changed, needs re-approval"
    SUBMITTING = "submitting", "Submitting to Instantly"
    PLACED = "placed", "Placed"
    PROVISIONING = "provisioning", "Provisioning mailboxes"
    READY = "ready", "Ready"
    FAILED = "failed", "Refused by Instantly"
    # No default card at Instantly: the order waits until a person pays or adds one there,
    # then tries again (docs/lifecycle-bounds.md). Nothing was bought.
    AWAITING_CHECKOUT = "awaiting_checkout", "Awaiting payment at Instantly"
    UNKNOWN = "unknown", "Outcome unknown, reconciling"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    PARTIALLY_CANCELLED = "partially_cancelled", "Partially cancelled"
    CANCELLED = "cancelled", "Cancelled"


S = OrderStatus

# Every allowed move, from → to. Anything else raises IllegalTransition (a bug, not a user
# error). A status with no entry is final.
TRANSITIONS: Final[Mapping[OrderStatus, frozenset[OrderStatus]]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL}),
    # Undecided requests are only reminded about (orders/workflow/bounds.py), never moved.
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.DRAFT}),
    S.NEEDS_REAPPROVAL: frozenset({S.APPROVED, S.REJECTED, S.DRAFT}),
    S.REJECTED: frozenset({S.DRAFT}),
    S.APPROVED: frozenset({S.SUBMITTING, S.NEEDS_ATTENTION}),
    S.SUBMITTING: frozenset(
        {
            S.PLACED,
            S.FAILED,
            S.AWAITING_CHECKOUT,
            S.UNKNOWN,
            S.NEEDS_REAPPROVAL,
            S.NEEDS_ATTENTION,
            S.APPROVED,
        }
    ),
    # A late answer to the current attempt still lands (placement's OUTCOME_FROM).
    S.UNKNOWN: frozenset({S.PLACED, S.FAILED, S.AWAITING_CHECKOUT, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.PLACED, S.FAILED, S.AWAITING_CHECKOUT, S.APPROVED}),
    S.FAILED: frozenset({S.APPROVED}),
    # Only a person (with a card on file at Instantly) moves it on: reminders, no bound.
    S.AWAITING_CHECKOUT: frozenset({S.APPROVED}),
    S.PLACED: frozenset({S.PROVISIONING, S.READY, S.PARTIALLY_CANCELLED, S.CANCELLED}),
    S.PROVISIONING: frozenset({S.READY, S.PARTIALLY_CANCELLED, S.CANCELLED}),
    S.READY: frozenset({S.PARTIALLY_CANCELLED, S.CANCELLED}),
    S.PARTIALLY_CANCELLED: frozenset({S.CANCELLED}),
}

# --- the sets of statuses the rest of the portal reads --------------------------------------

EDITABLE_STATUSES: Final = frozenset({S.DRAFT, S.REJECTED})
# A request back to draft voids it; docs/security.md.
REOPENABLE_STATUSES: Final = frozenset(
    {S.PENDING_APPROVAL, S.REJECTED, S.NEEDS_REAPPROVAL}
)
AWAITING_DECISION_STATUSES: Final = frozenset({S.PENDING_APPROVAL, S.NEEDS_REAPPROVAL})
# A person may re-submit these as a new attempt (awaiting_checkout: once a card is on file).
RESOLVABLE_STATUSES: Final = frozenset(
    {S.NEEDS_ATTENTION, S.FAILED, S.AWAITING_CHECKOUT}
)
IN_FLIGHT_STATUSES: Final = frozenset(
    {S.SUBMITTING, S.UNKNOWN, S.PLACED, S.PROVISIONING}
)
FULFILMENT_STATUSES: Final = frozenset({S.PLACED, S.PROVISIONING})
# Everything that is (or may be) bought and not cancelled: the budget counts these.
BUDGET_STATUSES: Final = frozenset(
    {
        S.APPROVED,
        S.AWAITING_CHECKOUT,
        S.SUBMITTING,
        S.UNKNOWN,
        S.NEEDS_ATTENTION,
        S.PLACED,
        S.PROVISIONING,
        S.READY,
        S.PARTIALLY_CANCELLED,
    }
)
# The order page polls while one of these may still change without anyone clicking.
LIVE_STATUSES: Final = frozenset(
    {S.APPROVED, S.SUBMITTING, S.UNKNOWN, S.PLACED, S.PROVISIONING}
)
# Bought and maybe still at Instantly: what the dashboard counts as owned, what forwarding
# applies to, and what may have mailboxes cancelled.
BOUGHT_STATUSES: Final = frozenset(
    {S.PLACED, S.PROVISIONING, S.READY, S.PARTIALLY_CANCELLED}
)
CANCELLABLE_STATUSES: Final = BOUGHT_STATUSES
# Bought once, cancelled since or not: the statuses an order with cancellations can have.
BOUGHT_OR_CANCELLED_STATUSES: Final = BOUGHT_STATUSES | {S.CANCELLED}
# A person should look: the dashboard's "needs attention" count.
ATTENTION_STATUSES: Final = frozenset(
    {S.NEEDS_ATTENTION, S.UNKNOWN, S.NEEDS_REAPPROVAL, S.AWAITING_CHECKOUT}
)
CANCELLED_STATUSES: Final = frozenset({S.PARTIALLY_CANCELLED, S.CANCELLED})


class EventKind(models.TextChoices):
    """What an audit row records; the label is what the order page and the admin show."""

    CREATED = "created", "Draft created"
    REVISED = "revised", "Revised after rejection"
    REOPENED = "reopened", "Reopened for editing"
    SUBMITTED = "submitted", "Submitted for approval"
    AUTO_APPROVED = "auto_approved", "Approved automatically (workspace policy)"
    AUTO_APPROVAL_BLOCKED = (
        "auto_approval_blocked",
        "Auto-approval blocked by the monthly budget",
    )
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CLAIMED = "claimed", "Worker claimed the order"
    CLAIM_RELEASED = "claim_released", "Nothing was sent; will try again"
    REQUOTE_DRIFT = (
        "requote_drift",
        "Instantly's price or answer changed; nothing bought",
    )
    PLACE_REQUEST = "place_request", "Order sent to Instantly"
    PLACED = "placed", "Placed at Instantly"
    FAILED = "failed", "Refused by Instantly"
    AWAITING_CHECKOUT = (
        "awaiting_checkout",
        "Instantly needs a payment method first; nothing bought",
    )
    CHECKOUT_REMINDER = (
        "checkout_reminder",
        "Still awaiting payment at Instantly: reminded",
    )
    OUTCOME_UNKNOWN = "outcome_unknown", "Instantly's answer was lost"
    STRANDED = "stranded", "Worker stopped during placement"
    RECONCILE_CHECK = "reconcile_check", "Checked Instantly's lists"
    APPROVAL_REMINDER = (
        "approval_reminder",
        "Still waiting for a decision: approvers reminded",
    )
    RECONCILED_PLACED = "reconciled_placed", "Found at Instantly: placed"
    NEEDS_ATTENTION = "needs_attention", "Needs a person"
    MARKED_PLACED = "marked_placed", "Marked placed by hand"
    RESUBMITTED = "resubmitted", "Re-submitted as a new attempt"
    PROVISIONING = "provisioning", "Mailboxes being set up"
    READY = "ready", "Every mailbox ready"
    PARTIALLY_CANCELLED = "partially_cancelled", "Some mailboxes cancelled at Instantly"
    CANCELLED = "cancelled", "Cancelled"
    STUCK = "stuck", "No progress: flagged as stuck"
    CANCEL_QUEUED = "cancel_queued", "Cancellation queued"
    CANCEL_REQUEST = "cancel_request", "Cancellation sent to Instantly"
    CANCEL_FAILED = "cancel_failed", "Cancellation refused"
    MAILBOXES_CANCELLED = "mailboxes_cancelled", "Mailboxes cancelled"
    FORWARDING_SET = "forwarding_set", "Domain forwarding set"
    FORWARDING_REMOVED = "forwarding_removed", "Domain forwarding removed"
    # An outcome for an attempt that is no longer current: kept on the record, changes nothing.
    LATE_PLACED = "late_placed", "Late answer (placed) for an earlier attempt"
    LATE_FAILED = "late_failed", "Late answer (refused) for an earlier attempt"
    LATE_AWAITING_CHECKOUT = (
        "late_awaiting_checkout",
        "Late answer (payment needed) for an earlier attempt",
    )
    LATE_UNKNOWN = "late_unknown", "Late lost answer for an earlier attempt"
    LATE_DRIFT = "late_drift", "Late price change for an earlier attempt"
    LATE_RELEASE = "late_release", "Late release of an earlier attempt"
    # After delivery (issue 15): health read from Instantly's accounts list. They change the
    # order's `health`, never its status: a bought order must never become re-submittable.
    HEALTH_LIVE = "health_live", "Every mailbox set up and warming: live"
    HEALTH_ATTENTION = "health_attention", "A mailbox disconnected or is erroring"
    HEALTH_RECOVERED = "health_recovered", "Mailboxes healthy again"
    # Credentials fetched live from Instantly; the event records who and which mailboxes,
    # never a password.
    CREDENTIALS_REVEALED = "credentials_revealed", "Credentials revealed"
    CREDENTIALS_DOWNLOADED = "credentials_downloaded", "Credentials downloaded (CSV)"
    # Cancelling before the next renewal, scheduled ahead (orders/renewals).
    RENEWAL_CANCEL_SCHEDULED = (
        "renewal_cancel_scheduled",
        "Cancellation scheduled before renewal",
    )
    RENEWAL_CANCEL_APPROVED = (
        "renewal_cancel_approved",
        "Scheduled cancellation approved",
    )
    RENEWAL_CANCEL_UNSCHEDULED = (
        "renewal_cancel_unscheduled",
        "Scheduled cancellation withdrawn",
    )
    RENEWAL_CANCEL_EXECUTED = (
        "renewal_cancel_executed",
        "Scheduled cancellation carried out",
    )
    RENEWAL_CANCEL_SKIPPED = (
        "renewal_cancel_skipped",
        "Scheduled cancellation not carried out",
    )
    # Burn-and-replace (issue 16, orders/burns.py): a delivered domain marked burned, and
    # the replacement drafted for it, recorded on both orders' timelines. Its cancellation
    # before the renewal records the renewal_cancel_* kinds above.
    DOMAIN_BURNED = "domain_burned", "Domain marked burned"
    BURN_REPLACEMENT_DRAFTED = (
        "burn_replacement_drafted",
        "Replacement drafted for a burned domain",
    )
    BURN_REPLACES = "burn_replaces", "Drafted to replace a burned domain"


class OrderHealth(models.TextChoices):
    """How a delivered order's mailboxes are doing at Instantly (issue 15). Kept apart from
    the status: the status is the purchase, this is what happened after it."""

    UNKNOWN = "", "Not followed yet"
    SETTING_UP = "setting_up", "Setting up"
    LIVE = "live", "Live"
    ATTENTION = "attention", "Needs attention"


class MailboxHealth(models.TextChoices):
    """One mailbox as Instantly's accounts list last showed it (its `status`, `setup_pending`
    and `warmup_status` folded into what a person acts on)."""

    UNKNOWN = "", "Not read yet"
    SETUP_PENDING = "setup_pending", "Setup pending"
    CONNECTED = "connected", "Connected"
    PAUSED = "paused", "Paused"
    ERROR = "error", "Error"
    DISCONNECTED = "disconnected", "Disconnected"


# A person must act on these: the order's health goes to attention (orders/mailbox_health.py)
# and the dashboard counts them.
UNHEALTHY_MAILBOX: Final = frozenset({MailboxHealth.ERROR, MailboxHealth.DISCONNECTED})


class Notice(models.TextChoices):
    """What the requester or the approvers are told (orders/notifications.py words each)."""

    APPROVAL_REQUESTED = "approval_requested"
    NEEDS_REAPPROVAL = "needs_reapproval"
    APPROVED = "approved"
    REJECTED = "rejected"
    PLACED = "placed"
    FAILED = "failed"
    AWAITING_CHECKOUT = "awaiting_checkout"
    READY = "ready"
    STUCK = "stuck"
    NEEDS_ATTENTION = "needs_attention"
    # Issue 15: a live order's mailbox disconnected or errors; credentials were revealed; a
    # scheduled cancellation waits for a lead, or was carried out.
    MAILBOX_ATTENTION = "mailbox_attention"
    CREDENTIALS_REVEALED = "credentials_revealed"
    RENEWAL_CANCEL_APPROVAL = "renewal_cancel_approval"
    RENEWAL_CANCEL_EXECUTED = "renewal_cancel_executed"


# The channels every notice goes out on, one task each (NotificationChannel's values; a test
# keeps them equal).
NOTICE_CHANNELS: Final = ("email", "webhook")


class IllegalTransition(Exception):
    """A move the table does not allow, or one made without the row lock: a bug."""


# --- locking ------------------------------------------------------------------------------

_LOCK_MARK = "_lifecycle_lock"


def _transaction_token() -> object | None:
    """The outermost atomic block of the current transaction: a lock taken in it holds while
    this object is the same one."""
    connection = transaction.get_connection()
    return connection.atomic_blocks[0] if connection.in_atomic_block else None


def _mark_locked(order: Order) -> Order:
    setattr(order, _LOCK_MARK, _transaction_token())
    return order


def _holds_lock(order: Order) -> bool:
    token = getattr(order, _LOCK_MARK, None)
    return token is not None and token is _transaction_token()


def order_lock(order: Order, *, with_workspace: bool = False) -> Order:
    """The order row locked for the rest of the transaction. `with_workspace` then locks its
    workspace row too, always in this order, so two approvals in one workspace serialize (the
    budget sees every committed order) without deadlocks."""
    model = apps.get_model("orders", "Order")
    if not with_workspace:
        return _mark_locked(model.objects.select_for_update().get(pk=order.pk))
    locked = (
        model.objects.select_for_update(of=("self",))
        .select_related("approved_quote")
        .get(pk=order.pk)
    )
    workspace_model = apps.get_model("orders", "Workspace")
    locked.workspace = workspace_model.objects.select_for_update().get(
        pk=locked.workspace_id
    )
    return _mark_locked(locked)


def order_lock_first(rows: QuerySet[Order]) -> Order | None:
    """The first of `rows` (a `select_for_update()` queryset: the caller chooses the filter
    that must still hold under the lock), or None."""
    if not rows.query.select_for_update:
        raise IllegalTransition("order_lock_first needs a select_for_update() queryset")
    found = rows.first()
    return None if found is None else _mark_locked(found)


def orders_lock_many(rows: QuerySet[Order]) -> list[Order]:
    """Every row of `rows` (a `select_for_update()` queryset), locked."""
    if not rows.query.select_for_update:
        raise IllegalTransition("orders_lock_many needs a select_for_update() queryset")
    return [_mark_locked(order) for order in rows]


def _check(from_status: str, to: OrderStatus, kind: str) -> None:
    if to not in TRANSITIONS.get(OrderStatus(from_status), frozenset()):
        raise IllegalTransition(f"{kind}: {from_status} → {to} is not an allowed move")


# --- moves --------------------------------------------------------------------------------


def order_transition(
    order: Order,
    to: OrderStatus,
    *,
    kind: EventKind,
    by: User | None = None,
    changes: Mapping[str, Any] | None = None,
    notify: Notice | None = None,
    **detail: object,
) -> Order:
    """Move `order` to `to`: the one way an order changes status.

    Locks the row unless `order_lock` did in this transaction, checks the move, records the
    `kind` event with `detail`, writes the status with `changes` (the fields that move with
    it, and only those: a concurrent writer's other fields survive), and queues `notify`
    for after the commit. Returns the locked order."""
    locked = order if _holds_lock(order) else order_lock(order)
    from_status = locked.status
    _check(from_status, to, kind)
    order_event_record(
        order=locked,
        by=by,
        kind=kind,
        from_status=from_status,
        to_status=to,
        **detail,
    )
    locked.status = to
    changes = dict(changes or {})
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*changes, "status", "updated_at"])
    _tallies_follow([(locked.pk, from_status, to)])
    if notify is not None:
        order_notify(order_id=locked.pk, notice=notify)
    return locked


def order_claim(
    order: Order,
    *,
    from_status: OrderStatus,
    to: OrderStatus,
    kind: EventKind,
    changes: Mapping[str, Any],
    **detail: object,
) -> bool:
    """The conditional move: one `UPDATE … WHERE status = from_status`, so of two workers only
    one wins (the claim before the one real order POST). Records the event when it won.
    Must run inside the caller's (durable) transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise IllegalTransition(f"{kind}: a claim runs inside a transaction")
    _check(from_status, to, kind)
    won = (
        type(order)
        .objects.filter(pk=order.pk, status=from_status)
        .update(status=to, **changes)
    )
    if won:
        order_event_record(
            order=order,
            by=None,
            kind=kind,
            from_status=from_status,
            to_status=to,
            **detail,
        )
        _tallies_follow([(order.pk, from_status, to)])
    return bool(won)


def orders_transition_grouped(
    moves: Sequence[tuple[Order, OrderStatus, dict[str, Any]]],
    *,
    changes_for: Mapping[OrderStatus, Mapping[str, Any]],
    notify: Mapping[OrderStatus, Notice],
    chunk: int,
) -> int:
    """Many locked orders moved at once (the fulfilment poll): one UPDATE per target status
    and chunk of `chunk` rows, one bulk insert of their events (kind: the target status,
    detail: the row's dict), notices after the commit. Returns how many moved."""
    model = apps.get_model("orders", "Order")
    by_target: dict[OrderStatus, list[int]] = {}
    events = []
    for order, to, detail in moves:
        if not _holds_lock(order):
            raise IllegalTransition(f"{to}: order {order.pk} is not locked")
        _check(order.status, to, to)
        by_target.setdefault(to, []).append(order.pk)
        events.append(
            order.events.model(
                order=order,
                kind=EventKind(to),
                from_status=order.status,
                to_status=to,
                detail=detail,
            )
        )
    for to, pks in by_target.items():
        for start in range(0, len(pks), chunk):
            model.objects.filter(pk__in=pks[start : start + chunk]).update(
                status=to, **changes_for.get(to, {})
            )
    if events:
        events[0].__class__.objects.bulk_create(events, batch_size=chunk)
    _tallies_follow([(order.pk, order.status, to) for order, to, _ in moves])
    for to, notice in notify.items():
        for pk in by_target.get(to, ()):
            order_notify(order_id=pk, notice=notice)
    return len(moves)


@transaction.atomic
def orders_health_set(
    moves: Sequence[tuple[Order, OrderHealth, str]], *, chunk: int
) -> int:
    """The one way an order's health changes (the health poll, orders/mailbox_health.py):
    many locked orders at once, one UPDATE per new health and chunk of `chunk` rows, one bulk
    insert of their events. (locked order, new health, a sentence naming the mailboxes) each.

    The status is never touched: health is what happened after the purchase, and a bought
    order must never become re-submittable. Entering attention records HEALTH_ATTENTION and
    queues MAILBOX_ATTENTION once: staying in attention is no move, so a poll that still finds
    a mailbox broken tells nobody again. Leaving attention records HEALTH_RECOVERED; becoming
    live otherwise records HEALTH_LIVE; "not followed yet → setting up" records nothing.
    Returns how many orders changed."""
    model = apps.get_model("orders", "Order")
    by_target: dict[OrderHealth, list[int]] = {}
    events = []
    told: list[int] = []
    for order, to, summary in moves:
        if not _holds_lock(order):
            raise IllegalTransition(f"health {to}: order {order.pk} is not locked")
        was = OrderHealth(order.health)
        if to == was:
            continue
        by_target.setdefault(to, []).append(order.pk)
        kind = _health_kind(was, to)
        if kind is None:
            continue
        events.append(
            order.events.model(
                order=order,
                kind=kind,
                from_status=order.status,
                to_status=order.status,
                detail={"from": was.value, "to": to.value, "summary": summary},
            )
        )
        if kind == EventKind.HEALTH_ATTENTION:
            told.append(order.pk)
    for to, pks in by_target.items():
        for start in range(0, len(pks), chunk):
            model.objects.filter(pk__in=pks[start : start + chunk]).update(health=to)
    if events:
        events[0].__class__.objects.bulk_create(events, batch_size=chunk)
    for pk in told:
        order_notify(order_id=pk, notice=Notice.MAILBOX_ATTENTION)
    return sum(len(pks) for pks in by_target.values())


def _health_kind(was: OrderHealth, to: OrderHealth) -> EventKind | None:
    if to == OrderHealth.ATTENTION:
        return EventKind.HEALTH_ATTENTION
    if was == OrderHealth.ATTENTION:
        return EventKind.HEALTH_RECOVERED
    if to == OrderHealth.LIVE:
        return EventKind.HEALTH_LIVE
    return None


def _tallies_follow(moves: Iterable[tuple[int, str, OrderStatus]]) -> None:
    """The dashboard's tallies (orders/models/tallies.py) count what bought orders own: an
    order entering the bought statuses brings its mailboxes and its spend, one leaving them
    takes its live mailboxes away; in the transaction of the move. (pk, from, to) each."""
    entering: list[int] = []
    leaving: list[int] = []
    for pk, was, to in moves:
        if (was in BOUGHT_STATUSES) != (to in BOUGHT_STATUSES):
            (entering if to in BOUGHT_STATUSES else leaving).append(pk)
    if not entering and not leaving:
        return
    tallies = cast("type[MailboxTally]", apps.get_model("orders", "MailboxTally"))
    if entering:
        tallies.objects.orders_moved(entering, bought=True)
    if leaving:
        tallies.objects.orders_moved(leaving, bought=False)


# --- audit rows and notices ---------------------------------------------------------------


def order_event_record(
    *,
    order: Order,
    by: User | None,
    kind: EventKind | str,
    from_status: str = "",
    to_status: str = "",
    **detail: object,
) -> OrderEvent:
    """One audit row. Status moves record theirs through the functions above; this is called
    directly for what leaves the status alone (a remote call, a reminder, a check)."""
    return order.events.create(
        actor=by,
        kind=EventKind(kind),
        from_status=from_status,
        to_status=to_status,
        detail=detail,
    )


def order_events_build(rows: Iterable[dict[str, Any]]) -> list[OrderEvent]:
    """Unsaved audit rows (order, kind, statuses, detail, created_at…) for a bulk insert of a
    made-up history (orders/history_generator); checked against the kinds like any other."""
    model = apps.get_model("orders", "OrderEvent")
    return [model(**{**row, "kind": EventKind(row["kind"])}) for row in rows]


def order_events_bulk_record(events: Sequence[OrderEvent], *, batch_size: int) -> None:
    apps.get_model("orders", "OrderEvent").objects.bulk_create(
        events, batch_size=batch_size
    )


def order_notify(*, order_id: int, notice: Notice | str) -> None:
    """Queue `notice` about the order for delivery once the current transaction commits (now
    if none): one task per channel, so a failing webhook never sends the email again. The
    notice's id travels with both and is what makes a redelivered task message harmless."""
    if notice not in Notice.values:
        raise ValueError(f"unknown notification event {notice!r}")
    notice_id = str(uuid.uuid4())
    for channel in NOTICE_CHANNELS:
        enqueue.deliver_notification(
            order_id=order_id, event=str(notice), event_id=notice_id, channel=channel
        )
