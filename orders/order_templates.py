"""Order templates and "order again": saving an order's shape under a name, and drafts with
fresh domains from a template or a past order (docs/planning.md, "Templates and order
again"). The shape itself, its JSON and the draft it makes are `orders/order_shapes.py`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from orders.domains import shorten
from orders.lifecycle import BOUGHT_OR_CANCELLED_STATUSES, OrderStatus
from orders.models import Membership, Order, OrderTemplate, OrderType, Workspace
from orders.order_shapes import (
    OrderShape,
    ShapedDraft,
    ShapeError,
    draft_from_shape,
    forwarding_sibling,
    seeds_of_order,
    shape_from_json,
    shape_of_order,
    shape_problems,
    shape_to_json,
)
from orders.rules import PROVIDER_RULES

# The orders whose page offers "Order again": everything that is over, bought or not.
ORDER_AGAIN_STATUSES: Final = BOUGHT_OR_CANCELLED_STATUSES | {
    OrderStatus.FAILED,
    OrderStatus.REJECTED,
}
TITLE_MAX_LENGTH: Final = 120
NAMES_SHOWN: Final = 6


class TemplateError(Exception):
    """A template write that cannot be done; the message is for the user."""


class TemplateNameTaken(TemplateError):
    pass


def name_taken_text(name: str) -> str:
    return (
        f"This workspace already has a template called “{shorten(name)}” (names are "
        "compared without case); choose another name."
    )


def order_again_refusal(order: Order) -> str | None:
    """Why this order cannot be ordered again, or None."""
    if order.status not in ORDER_AGAIN_STATUSES:
        return (
            f"Only an order that is over can be ordered again; this one is "
            f"{order.get_status_display().lower()}."
        )
    if not order.items.exists():
        return "This order has no domains: there is nothing to order again."
    return None


def template_delete_refusal(
    *, template: OrderTemplate, membership: Membership
) -> str | None:
    """Templates are the team's: their author may take one back, otherwise a lead decides
    (as for approvals), so an operator cannot remove what colleagues build drafts from."""
    if template.created_by_id == membership.user_id or membership.is_lead:
        return None
    return "Only the person who saved this template or a lead can delete it."


@transaction.atomic
def order_template_create(*, order: Order, by: User, name: str) -> OrderTemplate:
    """Save `order`'s shape (draft or bought) under `name`, unique in the workspace whatever
    the case. Raises TemplateNameTaken, or TemplateError when the order has no orderable
    shape (no domains, or contents a new order could not have)."""
    name = name.strip()
    if not order.items.exists():
        raise TemplateError("This order has no domains yet: there is no shape to save.")
    shape = shape_of_order(order)
    problems = shape_problems(shape)
    if problems:
        raise TemplateError(
            "This order cannot be saved as a template until it is fixed: "
            + " ".join(problems[:3])
        )
    templates = OrderTemplate.objects.in_workspace(order.workspace)
    if templates.filter(name__iexact=name).exists():
        raise TemplateNameTaken(name_taken_text(name))
    try:
        with transaction.atomic():  # a savepoint: the name may be taken meanwhile
            return OrderTemplate.objects.create(
                workspace=order.workspace,
                name=name,
                order_type=shape.order_type,
                shape=shape_to_json(shape),
                source_order=order,
                created_by=by,
            )
    except IntegrityError:
        raise TemplateNameTaken(name_taken_text(name)) from None


def order_template_delete(*, template: OrderTemplate, membership: Membership) -> None:
    refusal = template_delete_refusal(template=template, membership=membership)
    if refusal:
        raise TemplateError(refusal)
    template.delete()


def order_again(*, order: Order, by: User) -> ShapedDraft:
    """A draft with fresh domains in the shape of a past order, found from its domains'
    names (each keeping its TLD). Raises TemplateError when the order is not over."""
    refusal = order_again_refusal(order)
    if refusal:
        raise TemplateError(refusal)
    title = f"{order.display_name} (again)"
    return draft_from_shape(
        workspace=order.workspace,
        by=by,
        shape=shape_of_order(order),
        seeds=seeds_of_order(order),
        title=title[:TITLE_MAX_LENGTH],
    )


def template_draft(
    *, template: OrderTemplate, by: User, seeds: list[str]
) -> ShapedDraft:
    """A draft with fresh domains found from `seeds`, in the template's shape. Raises
    TemplateError when the stored shape is unreadable."""
    try:
        shape = shape_from_json(template.shape)
    except ShapeError as exc:
        raise TemplateError(str(exc)) from None
    return draft_from_shape(
        workspace=template.workspace,
        by=by,
        shape=shape,
        seeds=seeds,
        title=template.name[:TITLE_MAX_LENGTH],
    )


# --- What the templates page shows (reads only) ---------------------------------------------


@dataclass(frozen=True)
class DomainLine:
    place: int
    provider: str
    prefixes: str
    forwarding: str


@dataclass(frozen=True)
class TemplateRow:
    template: OrderTemplate
    type_label: str
    problem: str
    domains: list[str]  # "2 Google domains with 2 mailboxes each"
    personas: str
    forwarding: str
    lines: list[DomainLine]
    may_delete: bool


def _forwarding_words(forwarding: str) -> str:
    sibling = forwarding_sibling(forwarding)
    if sibling is not None:
        return f"domain {sibling} of the new order"
    return forwarding or "none"


def _plural(count: int, word: str, words: str) -> str:
    return f"{count} {word if count == 1 else words}"


def shape_summary(
    shape: OrderShape,
) -> tuple[list[str], str, str, list[DomainLine]]:
    groups: Counter[tuple[str, int]] = Counter()
    names: dict[tuple[str, str], None] = {}
    forwarding: Counter[str] = Counter()
    lines = []
    for place, domain in enumerate(shape.domains, start=1):
        rule = PROVIDER_RULES.get(domain.provider)
        label = rule.label if rule else str(domain.provider)
        groups[(label, len(domain.mailboxes))] += 1
        for m in domain.mailboxes:
            names.setdefault((m.first_name, m.last_name), None)
        words = _forwarding_words(domain.forwarding_domain)
        if domain.forwarding_domain:
            forwarding[words] += 1
        lines.append(
            DomainLine(
                place=place,
                provider=label,
                prefixes=", ".join(m.email_prefix for m in domain.mailboxes)
                or "mailboxes come with the domain",
                forwarding=words,
            )
        )
    domains = [
        f"{_plural(count, f'{label} domain', f'{label} domains')}"
        + (
            f" with {_plural(size, 'mailbox', 'mailboxes')}{' each' if count > 1 else ''}"
            if size
            else " (pre-warmed, mailboxes included)"
        )
        for (label, size), count in groups.items()
    ]
    shown = [f"{first} {last}" for first, last in list(names)[:NAMES_SHOWN]]
    more = len(names) - NAMES_SHOWN
    personas = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    forwarded = sum(forwarding.values())
    forwarding_text = (
        "; ".join(
            f"{_plural(n, 'domain', 'domains')} to {target}"
            for target, n in forwarding.items()
        )
        if forwarded
        else "none"
    )
    return domains, personas or "none", forwarding_text, lines


def template_rows(*, workspace: Workspace, membership: Membership) -> list[TemplateRow]:
    rows = []
    templates = OrderTemplate.objects.in_workspace(workspace).select_related(
        "created_by", "source_order"
    )
    for template in templates:
        may_delete = (
            template_delete_refusal(template=template, membership=membership) is None
        )
        type_label = (
            OrderType(template.order_type).label
            if template.order_type in OrderType.values
            else template.order_type
        )
        try:
            shape = shape_from_json(template.shape)
        except ShapeError as exc:
            rows.append(
                TemplateRow(template, type_label, str(exc), [], "", "", [], may_delete)
            )
            continue
        domains, personas, forwarding, lines = shape_summary(shape)
        rows.append(
            TemplateRow(
                template,
                type_label,
                "",
                domains,
                personas,
                forwarding,
                lines,
                may_delete,
            )
        )
    return rows
