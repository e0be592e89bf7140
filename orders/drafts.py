"""Writes on draft orders: create, save the builder's state, reopen for editing.

A draft is saved whole from the builder (items and mailboxes replaced in four queries whatever
its size). Its `version` guards against two tabs overwriting each other: a save that carries an
older version is refused and the caller shows the latest state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders.models import (
    EDITABLE_STATUSES,
    Mailbox,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    OrderType,
    Workspace,
)
from orders.rules import DraftItem, DraftMailbox

REOPENABLE = frozenset(
    {OrderStatus.PENDING_APPROVAL, OrderStatus.REJECTED, OrderStatus.NEEDS_REAPPROVAL}
)


class DraftError(Exception):
    """A draft write that cannot be done; the message is for the user."""


class DraftConflict(DraftError):
    pass


class DraftLocked(DraftError):
    pass


def order_event_record(
    *,
    order: Order,
    by: User | None,
    kind: str,
    from_status: str = "",
    to_status: str = "",
    **detail: object,
) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        actor=by,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        detail=detail,
    )


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
        kind="created",
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
) -> Order:
    """Replace the draft's items and mailboxes with `items`.

    Raises DraftConflict when `version` is not the stored one (someone saved in between) and
    DraftLocked when the order is no longer editable. Local rule findings never block a save.
    """
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in EDITABLE_STATUSES:
        raise DraftLocked(
            f"This order is {locked.get_status_display().lower()} and can no longer be edited."
        )
    if locked.version != version:
        raise DraftConflict(
            "This draft was changed in another tab or by someone else since you opened it. "
            "Your last change was not saved; the latest version is shown."
        )
    unchanged = (
        (order_type is None or order_type == locked.order_type)
        and (title is None or title.strip() == locked.title)
        and locked.status == OrderStatus.DRAFT
        and draft_items(locked) == list(items)
    )
    if unchanged:
        # Autosave fires on focus changes too; an identical save keeps the version, so another
        # tab's copy stays current.
        return locked
    fields = ["version", "updated_at"]
    if order_type is not None and order_type != locked.order_type:
        locked.order_type = OrderType(order_type)
        fields.append("order_type")
    if title is not None and title.strip() != locked.title:
        locked.title = title.strip()
        fields.append("title")
    if locked.status == OrderStatus.REJECTED:
        order_event_record(
            order=locked,
            by=by,
            kind="revised",
            from_status=locked.status,
            to_status=OrderStatus.DRAFT,
        )
        locked.status = OrderStatus.DRAFT
        fields.append("status")
    locked.version += 1
    locked.save(update_fields=fields)

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


@transaction.atomic
def order_reopen(*, order: Order, by: User) -> Order:
    """Back to draft for editing. A pending approval request is void from here on: the next
    submission needs a new quote and a new approval (DESIGN §3 rule 1)."""
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.status not in REOPENABLE:
        raise DraftLocked(
            f"An order that is {locked.get_status_display().lower()} cannot be edited."
        )
    order_event_record(
        order=locked,
        by=by,
        kind="reopened",
        from_status=locked.status,
        to_status=OrderStatus.DRAFT,
    )
    locked.status = OrderStatus.DRAFT
    locked.approver = None
    locked.approved_quote = None
    locked.version += 1
    locked.updated_at = timezone.now()
    locked.save(
        update_fields=["status", "approver", "approved_quote", "version", "updated_at"]
    )
    return locked


@transaction.atomic
def order_submit(*, order: Order, by: User, version: int, fingerprint: str) -> Order:
    """Freeze the draft with its quote and ask for approval.

    Allowed only when the newest quote priced exactly the current payload (same fingerprint as
    the one the user saw) and Instantly's simulation said the order is valid.
    """
    from orders.payload import fingerprint as payload_fingerprint
    from orders.payload import order_payload

    locked = Order.objects.select_for_update().get(pk=order.pk)
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
    order_event_record(
        order=locked,
        by=by,
        kind="submitted",
        from_status=locked.status,
        to_status=OrderStatus.PENDING_APPROVAL,
        quote_id=quote.pk,
        due_now=str(quote.due_now),
        fingerprint=quote.fingerprint,
    )
    locked.status = OrderStatus.PENDING_APPROVAL
    locked.approved_quote = quote
    locked.submitted_at = timezone.now()
    locked.save(
        update_fields=["status", "approved_quote", "submitted_at", "updated_at"]
    )
    # The workspace's approval policy decides who approves (maybe nobody: auto-approval,
    # which enqueues placement on commit). Imported here: workflow builds on this module.
    from orders import workflow

    return workflow.order_policy_apply(order=locked, by=by)
