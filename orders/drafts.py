"""Writes on draft orders: create, save the builder's state, reopen for editing.

A draft is saved whole from the builder (items and mailboxes replaced in four queries whatever
its size). Its `version` guards against two tabs overwriting each other: a save that carries an
older version is refused and the caller shows the latest state.

Every save that changes the contents records its editor (`OrderEdit`) and submission records
the submitter: the four-eyes rule keeps both from approving (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from orders.compiled_queries import CompiledValues, from_row
from orders.lifecycle import (
    AWAITING_DECISION_STATUSES,
    EDITABLE_STATUSES,
    REOPENABLE_STATUSES,
    EventKind,
    OrderStatus,
    order_event_record,
    order_lock,
    order_transition,
)
from orders.models import (
    DraftSnapshot,
    Mailbox,
    Membership,
    Order,
    OrderEdit,
    OrderItem,
    OrderType,
    Workspace,
)
from orders.models.order import quote_frozen
from orders.rules import DraftItem, DraftMailbox


class DraftError(Exception):
    """A draft write that cannot be done; the message is for the user."""


class DraftConflict(DraftError):
    pass


class DraftLocked(DraftError):
    pass


class ReopenRefused(DraftError):
    """This person may not take the request back from its approvers."""


def draft_read(order: Order) -> list[DraftItem]:
    """The stored draft in the builder's terms in one query (items joined to their mailboxes,
    as plain values): the quote endpoint reads it on every keystroke, where the two model
    queries of `draft_items` cost a noticeable share of the portal's time
    (docs/performance.md, "Quote overhead"). Same items, same order as `draft_items`."""
    rows = (
        OrderItem.objects.filter(order=order)
        .order_by("position", "pk", "mailboxes__position", "mailboxes__pk")
        .values_list(
            "pk",
            "domain",
            "provider",
            "forwarding_domain",
            "mailboxes__pk",
            "mailboxes__first_name",
            "mailboxes__last_name",
            "mailboxes__email_prefix",
        )
    )
    return _draft_from_rows(rows)


def _order_with_draft_query(fields: Sequence[str]) -> CompiledValues:
    def build(workspace_id: int, pk: int) -> QuerySet[Order, Any]:
        return (
            Order.objects.in_workspace(Workspace(pk=workspace_id))
            .filter(pk=pk)
            .order_by(
                "items__position",
                "items__pk",
                "items__mailboxes__position",
                "items__mailboxes__pk",
            )
            .values_list(
                *fields,
                "items__pk",
                "items__domain",
                "items__provider",
                "items__forwarding_domain",
                "items__mailboxes__pk",
                "items__mailboxes__first_name",
                "items__mailboxes__last_name",
                "items__mailboxes__email_prefix",
            )
        )

    return CompiledValues(build, (int, int))


# The columns of the order the quote endpoint reads.
QUOTE_ORDER_FIELDS: Final = ("id", "workspace_id", "status", "order_type", "version")
_QUOTE_ORDER_WITH_DRAFT = _order_with_draft_query(QUOTE_ORDER_FIELDS)


def quote_order_with_draft_read(
    workspace: Workspace, pk: int
) -> tuple[Order, list[DraftItem]] | None:
    """The workspace's order `pk` (only `QUOTE_ORDER_FIELDS`) and its stored draft, as
    `draft_read` gives it, in one query compiled once: the order left-joined to its items
    and their mailboxes. None when the workspace has no such order. The quote endpoint runs
    this on every keystroke (docs/performance.md, "Quote overhead")."""
    rows = _QUOTE_ORDER_WITH_DRAFT.rows(workspace.pk, pk)
    if not rows:
        return None
    width = len(QUOTE_ORDER_FIELDS)
    order: Order = from_row(Order, rows[0][:width], QUOTE_ORDER_FIELDS)
    order.workspace = workspace
    # An order without items comes as one row whose item columns are empty.
    return order, _draft_from_rows(
        row[width:] for row in rows if row[width] is not None
    )


def _draft_from_rows(
    rows: Iterable[tuple[int, str, int, str, int | None, str, str, str]],
) -> list[DraftItem]:
    heads: dict[int, tuple[str, int, str]] = {}
    mailboxes: dict[int, list[DraftMailbox]] = {}
    for pk, domain, provider, forwarding, mailbox_pk, first, last, prefix in rows:
        heads.setdefault(pk, (domain, provider, forwarding))
        on_item = mailboxes.setdefault(pk, [])
        if mailbox_pk is not None:  # an item without mailboxes comes as one empty row
            on_item.append(DraftMailbox(first, last, prefix))
    return [
        DraftItem(domain, provider, forwarding, tuple(mailboxes[pk]))
        for pk, (domain, provider, forwarding) in heads.items()
    ]


def draft_items(
    order: Order, rows: Iterable[OrderItem] | None = None
) -> list[DraftItem]:
    """The stored draft in the builder's terms: two queries, or none when `rows` (items with
    their mailboxes prefetched) are passed."""
    if rows is None:
        rows = order.items.prefetch_related("mailboxes")
    return [
        DraftItem(
            domain=item.domain,
            provider=item.provider,
            forwarding_domain=item.forwarding_domain,
            mailboxes=tuple(
                DraftMailbox(
                    first_name=m.first_name,
                    last_name=m.last_name,
                    email_prefix=m.email_prefix,
                )
                for m in item.mailboxes.all()
            ),
        )
        for item in rows
    ]


@transaction.atomic
def order_draft_create(
    *, workspace: Workspace, by: User, order_type: str, title: str = ""
) -> Order:
    order = Order.objects.create(
        workspace=workspace,
        requester=by,
        order_type=OrderType(order_type),
        title=title.strip(),
    )
    order_event_record(
        order=order,
        by=by,
        kind=EventKind.CREATED,
        to_status=OrderStatus.DRAFT,
        order_type=order_type,
    )
    return order


@transaction.atomic
def order_draft_save(
    *,
    order: Order,
    by: User,
    version: int,
    items: Sequence[DraftItem],
    order_type: str | None = None,
    title: str | None = None,
    undo_label: str = "",
    shown: Sequence[DraftItem] | None = None,
) -> Order:
    """Replace the draft's items and mailboxes with `items`.

    With `undo_label` (a destructive action: remove, replace, clear, undo) the items as they
    were are kept in a DraftSnapshot in this same transaction, so "Undo" can bring them back.
    `shown` is what the page held when the action was clicked: it is what the snapshot keeps,
    since typing that autosave had not sent yet would otherwise be lost to the undo.

    Raises DraftConflict when `version` is not the stored one (someone saved in between) and
    DraftLocked when the order is no longer editable. Local rule findings never block a save.
    """
    locked = order_lock(order)
    if locked.status not in EDITABLE_STATUSES:
        raise DraftLocked(
            f"This order is {locked.get_status_display().lower()} and can no longer be edited."
        )
    if locked.version != version:
        raise DraftConflict(
            "This draft was changed in another tab or by someone else since you opened it. "
            "Your last change was not saved; the latest version is shown."
        )
    before = draft_items(locked)
    contents_changed = (
        (order_type is not None and order_type != locked.order_type)
        or (title is not None and title.strip() != locked.title)
        or before != list(items)
    )
    if not contents_changed and locked.status == OrderStatus.DRAFT:
        # Autosave fires on focus changes too; an identical save keeps the version, so another
        # tab's copy stays current.
        return locked
    kept = before if shown is None else list(shown)
    if undo_label and kept != list(items):
        _snapshot_take(order=locked, by=by, items=kept, label=undo_label)
    changes: dict[str, object] = {"version": locked.version + 1}
    if order_type is not None and order_type != locked.order_type:
        changes["order_type"] = OrderType(order_type)
    if title is not None and title.strip() != locked.title:
        changes["title"] = title.strip()
    if locked.status == OrderStatus.REJECTED:
        order_transition(
            locked, OrderStatus.DRAFT, kind=EventKind.REVISED, by=by, changes=changes
        )
    else:
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes, "updated_at"])
    if contents_changed:
        # Only a real change makes an editor: an identical save of a rejected draft (autosave
        # on focus) revises it without making its reader one.
        OrderEdit.objects.create(order=locked, version=locked.version, editor=by)

    Mailbox.objects.filter(item__order=locked).delete()
    OrderItem.objects.filter(order=locked).delete()
    rows = OrderItem.objects.bulk_create(
        OrderItem(
            order=locked,
            domain=item.domain,
            provider=item.provider,
            forwarding_domain=item.forwarding_domain,
            position=index,
        )
        for index, item in enumerate(items)
    )
    Mailbox.objects.bulk_create(
        Mailbox(
            item=row,
            email_prefix=mailbox.email_prefix,
            first_name=mailbox.first_name,
            last_name=mailbox.last_name,
            position=position,
        )
        for row, item in zip(rows, items, strict=True)
        for position, mailbox in enumerate(item.mailboxes)
    )
    return locked


# How many undo steps a draft keeps; older snapshots are deleted as new ones are taken.
SNAPSHOTS_KEPT = 10
# The Undo offer stays on the page for this many saves after the destructive one, so the next
# action (and the autosaves of typing around it) do not take it away.
UNDO_WINDOW = 5


def _items_json(items: Sequence[DraftItem]) -> list[dict[str, object]]:
    return [
        {
            "domain": item.domain,
            "provider": item.provider,
            "forwarding_domain": item.forwarding_domain,
            "mailboxes": [
                [m.first_name, m.last_name, m.email_prefix] for m in item.mailboxes
            ],
        }
        for item in items
    ]


def snapshot_items(snapshot: DraftSnapshot) -> list[DraftItem]:
    return [
        DraftItem(
            domain=str(item["domain"]),
            provider=int(item["provider"]),
            forwarding_domain=str(item["forwarding_domain"]),
            mailboxes=tuple(
                DraftMailbox(first_name=str(f), last_name=str(la), email_prefix=str(p))
                for f, la, p in item["mailboxes"]
            ),
        )
        for item in snapshot.items
    ]


def _snapshot_take(
    *, order: Order, by: User, items: Sequence[DraftItem], label: str
) -> DraftSnapshot:
    snapshot = DraftSnapshot.objects.create(
        order=order,
        version=order.version,
        label=label[:200],
        items=_items_json(items),
        taken_by=by,
    )
    stale = DraftSnapshot.objects.filter(order=order).values_list("pk", flat=True)[
        SNAPSHOTS_KEPT:
    ]
    DraftSnapshot.objects.filter(pk__in=list(stale)).delete()
    return snapshot


def undo_offer(order: Order) -> DraftSnapshot | None:
    """The snapshot the builder offers to undo: the newest, while it is recent."""
    snapshot = DraftSnapshot.objects.filter(order=order).first()
    if snapshot is None or order.version - snapshot.version > UNDO_WINDOW:
        return None
    return snapshot


@transaction.atomic
def order_draft_undo(
    *,
    order: Order,
    by: User,
    version: int,
    snapshot_id: int,
    order_type: str | None = None,
    title: str | None = None,
    typed: Sequence[DraftItem] | None = None,
) -> tuple[Order, str]:
    """Bring back the items of one of this draft's snapshots as a new version; returns the
    saved order and the undone action's label.

    The restore is an ordinary save (version guard, edit recorded for four-eyes) and is itself
    undoable: the items it replaces become the newest snapshot. `typed` is what the page
    showed when Undo was clicked: it is saved first, so typing that autosave had not sent yet
    is in that snapshot too. Raises DraftError when the snapshot is gone (undone already, or
    too old)."""
    snapshot = (
        DraftSnapshot.objects.select_for_update()
        .filter(order_id=order.pk, pk=snapshot_id)
        .first()
    )
    if snapshot is None:
        raise DraftError(
            "That undo is no longer available (it was used already or is too old); "
            "the draft was not changed."
        )
    items = snapshot_items(snapshot)
    label = snapshot.label
    snapshot.delete()
    if typed is not None:
        order = order_draft_save(
            order=order,
            by=by,
            version=version,
            items=typed,
            order_type=order_type,
            title=title,
        )
        version = order.version
    saved = order_draft_save(
        order=order,
        by=by,
        version=version,
        items=items,
        order_type=order_type,
        title=title,
        undo_label=f"Undid “{label}”",
    )
    return saved, label


def reopen_refusal(*, order: Order, user: User) -> str | None:
    """Why this person may not reopen the order, or None when they may.

    Reopening a request that waits for approval voids it, so only its submitter (taking it
    back) or a lead may; a rejected order is back with the team and anyone may revise it."""
    if order.status not in REOPENABLE_STATUSES:
        return (
            f"An order that is {order.get_status_display().lower()} cannot be edited."
        )
    if (
        order.status not in AWAITING_DECISION_STATUSES
        or order.submitted_by_id == user.pk
    ):
        return None
    membership = Membership.objects.filter(
        user_id=user.pk, workspace_id=order.workspace_id
    ).first()
    if membership is not None and membership.is_lead:
        return None
    return (
        "This order waits for approval: only the person who submitted it or a lead can "
        "take it back for editing."
    )


@transaction.atomic
def order_reopen(*, order: Order, by: User) -> Order:
    """Back to draft for editing. A pending approval request is void from here on: the next
    submission needs a new quote and a new approval (docs/architecture.md, safety rule 1).

    Raises ReopenRefused when `by` may not void the request, DraftLocked when the order is
    past approval."""
    locked = order_lock(order)
    refusal = reopen_refusal(order=locked, user=by)
    if refusal is not None:
        if locked.status not in REOPENABLE_STATUSES:
            raise DraftLocked(refusal)
        raise ReopenRefused(refusal)
    return order_transition(
        locked,
        OrderStatus.DRAFT,
        kind=EventKind.REOPENED,
        by=by,
        changes={
            "approver": None,
            **quote_frozen(None),
            "version": locked.version + 1,
        },
    )


@transaction.atomic
def order_submit(*, order: Order, by: User, version: int, fingerprint: str) -> Order:
    """Freeze the draft with its quote and ask for approval.

    Allowed only when the newest quote priced exactly the current payload (same fingerprint as
    the one the user saw) and Instantly's simulation said the order is valid.
    """
    from orders.payload import fingerprint as payload_fingerprint
    from orders.payload import order_payload

    locked = order_lock(order)
    if locked.status != OrderStatus.DRAFT:
        raise DraftLocked(
            f"This order is {locked.get_status_display().lower()}; only a draft can be submitted."
        )
    if locked.version != version:
        raise DraftConflict(
            "The draft changed after this quote was shown; check the new quote and submit again."
        )
    quote = locked.quotes.first()
    current = payload_fingerprint(order_payload(locked))
    if (
        quote is None
        or quote.fingerprint != current
        or quote.fingerprint != fingerprint
    ):
        raise DraftError(
            "The quote no longer matches the draft; wait for the new quote, then submit."
        )
    if not quote.is_valid:
        raise DraftError(
            "Instantly's simulation says this order would be refused; fix the marked rows first."
        )
    order_transition(
        locked,
        OrderStatus.PENDING_APPROVAL,
        kind=EventKind.SUBMITTED,
        by=by,
        changes={
            **quote_frozen(quote),
            "submitted_at": timezone.now(),
            "submitted_by": by,
        },
        quote_id=quote.pk,
        due_now=str(quote.due_now),
        fingerprint=quote.fingerprint,
    )
    # The workspace's approval policy decides who approves (maybe nobody: auto-approval,
    # which enqueues placement on commit). Imported here: workflow builds on this module.
    from orders import workflow

    return workflow.order_policy_apply(order=locked, by=by)
