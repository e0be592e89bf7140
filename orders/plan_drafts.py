"""A capacity plan becomes a draft (docs/planning.md, "Capacity planner").

Done-for-you plans: mailboxes named from the persona library (`persona_picker`), built-in
names where the library cannot fill a domain, then `order_shapes.draft_from_shape` finds fresh
domains for the brand names and starts their availability check. Pre-warmed plans name the
stock domains the plan priced, so the draft holds exactly what the planner showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import transaction

from orders import drafts, mailboxes, order_shapes, persona_picker
from orders.capacity_plan import Alternative
from orders.models import Order, Workspace
from orders.rules import PRE_WARMED_UP, DraftMailbox

BUILTIN_NOTE = (
    "The persona library could not name every mailbox, so the rest have built-in names; "
    "change them in the builder if you like."
)


@dataclass
class PlannedDraft:
    order: Order
    problems: list[str] = field(default_factory=list)


def plan_mailboxes(
    *, workspace: Workspace, counts: Sequence[int]
) -> tuple[list[list[DraftMailbox]], list[str]]:
    """Mailboxes for each domain: the persona library's, topped up with built-in names."""
    pick = persona_picker.persona_mailboxes(workspace=workspace, counts=counts)
    named: list[list[DraftMailbox]] = []
    short = False
    for count, picked in zip(counts, pick.per_domain, strict=True):
        rows = list(picked)
        if len(rows) < count:
            short = True
            rows += mailboxes.generate_mailboxes(
                [],
                mailboxes.DEFAULT_PATTERN,
                count - len(rows),
                existing_prefixes=[m.email_prefix for m in rows],
            )
        named.append(rows)
    if not pick.problems:
        return named, []
    # One message, not one per domain: the library's first reason says what to do.
    more = len(pick.problems) - 1
    reason = pick.problems[0] + (f" ({more} more like it.)" if more else "")
    return named, [f"{BUILTIN_NOTE} {reason}" if short else reason]


def plan_draft_create(
    *,
    workspace: Workspace,
    by: User,
    alternative: Alternative,
    seeds: Sequence[str],
    title: str,
) -> PlannedDraft:
    """A draft of `alternative`. Calls the remote (suggestions) outside any transaction."""
    if alternative.kind == PRE_WARMED_UP:
        with transaction.atomic():
            order = drafts.order_draft_create(
                workspace=workspace, by=by, order_type=PRE_WARMED_UP, title=title
            )
            order = drafts.order_draft_save(
                order=order,
                by=by,
                version=order.version,
                items=alternative.draft_items(),
            )
        return PlannedDraft(order)
    counts = [count for line in alternative.lines for count in line.counts]
    providers = [line.provider for line in alternative.lines for _ in line.counts]
    named, problems = plan_mailboxes(workspace=workspace, counts=counts)
    shape = order_shapes.OrderShape(
        order_type=alternative.kind,
        domains=tuple(
            order_shapes.DomainShape(provider=provider, mailboxes=tuple(rows))
            for provider, rows in zip(providers, named, strict=True)
        ),
    )
    shaped = order_shapes.draft_from_shape(
        workspace=workspace, by=by, shape=shape, seeds=seeds, title=title
    )
    return PlannedDraft(shaped.order, problems + shaped.problems)
