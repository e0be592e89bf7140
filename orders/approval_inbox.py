"""What the approval inbox shows (reads only): each request waiting for a decision with its
policy check, and the count in the navigation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from orders import workflow
from orders.models import Membership, Order, Quote
from orders.order_page import DriftRow, drift_rows

# Domains named on an approval card before "and N more".
CARD_DOMAINS = 8


@dataclass(frozen=True)
class ApprovalEntry:
    order: Order
    quote: Quote | None
    check: workflow.ApprovalCheck
    domains: list[str]
    more_domains: int
    mailbox_count: int
    drift: list[DriftRow]


def approval_entries(
    *, membership: Membership, order_pk: int | None = None
) -> list[ApprovalEntry]:
    """The inbox: every request waiting in the workspace (or just one), with its check."""
    rows = (
        Order.objects.in_workspace(membership.workspace)
        .select_related("requester", "submitted_by", "approved_quote", "workspace")
        .prefetch_related("items")
        .annotate(mailbox_count=Count("items__mailboxes"))
        .order_by("submitted_at", "pk")
    )
    orders = list(
        rows.filter(pk=order_pk) if order_pk is not None else rows.awaiting_decision()
    )
    committed = workflow.committed_monthly_spend(workspace=membership.workspace)
    editors = workflow.order_editors(order.pk for order in orders)
    entries = []
    for order in orders:
        domains = [item.domain for item in order.items.all()]
        entries.append(
            ApprovalEntry(
                order=order,
                quote=order.approved_quote,
                check=workflow.approval_check(
                    order=order,
                    membership=membership,
                    committed=committed,
                    editors=editors.get(order.pk, {}),
                ),
                domains=domains[:CARD_DOMAINS],
                more_domains=max(0, len(domains) - CARD_DOMAINS),
                mailbox_count=getattr(order, "mailbox_count", 0),
                drift=drift_rows(order.drift),
            )
        )
    return entries


def approvals_waiting(*, membership: Membership | None) -> int:
    return workflow.pending_approvals_for(membership=membership)
