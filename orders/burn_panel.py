"""What a domain's burn panel on the order page shows (reads only): the burn with its
replacement and schedule, or the form to mark the domain burned when it may be.

Built from what the order page has loaded (the items with their burn joined and their
mailboxes prefetched): no query per domain. The writes are in `orders/burns.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import Http404

from orders.burns import (
    BURNABLE_STATUSES,
    NOTE_LENGTH,
    RESCHEDULABLE,
    mark_refusal,
    schedule_words,
)
from orders.models import (
    BurnReason,
    DomainBurn,
    MailboxStatus,
    Membership,
    Order,
    OrderItem,
    Workspace,
)

# What the page joins to each item so that the panel costs no query of its own.
BURN_RELATED = ("burn__marked_by", "burn__replacement", "burn__schedule")


class BurnForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why is it burned?",
        choices=[("", "Choose a reason")] + list(BurnReason.choices),
        error_messages={
            "required": "Reason: choose why the domain is burned.",
            "invalid_choice": "Reason: choose one of the listed reasons.",
        },
    )
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=NOTE_LENGTH,
        widget=forms.TextInput(attrs={"maxlength": NOTE_LENGTH}),
        error_messages={
            "max_length": f"Note: at most {NOTE_LENGTH} characters.",
        },
    )


def burn_form(item: OrderItem, data: Any = None) -> BurnForm:
    # One form per domain on the page: ids must not repeat.
    return BurnForm(data, auto_id=f"burn-{item.pk}-%s")


@dataclass
class BurnPanel:
    item: OrderItem
    order: Order
    burn: DomainBurn | None
    may_mark: bool
    form: BurnForm
    # After an action: what happened, what could not be done, what was refused.
    notice: str = ""
    problems: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def key(self) -> str:
        return f"burn-{self.item.pk}"

    @property
    def schedule_text(self) -> str:
        if self.burn is None or self.burn.schedule is None:
            return ""
        return schedule_words(self.burn.schedule)

    @property
    def may_replace(self) -> bool:
        return self.burn is not None and self.burn.replacement_id is None

    @property
    def may_schedule(self) -> bool:
        """The cancellation may be proposed again: none linked, or it ended without running,
        and the domain still has a live mailbox of a delivered order."""
        burn = self.burn
        if burn is None or self.order.status not in BURNABLE_STATUSES:
            return False
        if burn.schedule is not None and burn.schedule.status not in RESCHEDULABLE:
            return False
        return any(
            m.status != MailboxStatus.CANCELLED for m in self.item.mailboxes.all()
        )

    @property
    def shown(self) -> bool:
        return self.burn is not None or self.may_mark


def _burn_of(item: OrderItem) -> DomainBurn | None:
    try:
        return item.burn
    except DomainBurn.DoesNotExist:
        return None


def panel_for(
    *,
    item: OrderItem,
    order: Order,
    membership: Membership | None,
    form: BurnForm | None = None,
) -> BurnPanel:
    """`item` with its burn joined (BURN_RELATED) and its mailboxes prefetched."""
    burn = _burn_of(item)
    mailboxes = list(item.mailboxes.all())
    live = sum(m.status != MailboxStatus.CANCELLED for m in mailboxes)
    may_mark = (
        membership is not None
        and burn is None
        and not mark_refusal(order=order, item=item, live=live, total=len(mailboxes))
    )
    return BurnPanel(
        item=item,
        order=order,
        burn=burn,
        may_mark=may_mark,
        form=form or burn_form(item),
    )


def burn_item(*, workspace: Workspace, order_pk: int, item_pk: int) -> OrderItem:
    """The domain `item_pk` of order `order_pk`, both of this workspace (404 otherwise), with
    what its panel shows."""
    item = (
        OrderItem.objects.filter(
            pk=item_pk, order_id=order_pk, order__workspace=workspace
        )
        .select_related("order__workspace", *BURN_RELATED)
        .prefetch_related("mailboxes")
        .first()
    )
    if item is None:
        raise Http404("This workspace has no such domain on that order.")
    return item
