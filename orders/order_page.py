"""What the order page shows (reads only): the order with its bill and timeline, and the
workflow panel (decision, progress, refusal, resolution, cancellation) that its template tag
renders for every view that shows the page. The actions are in `workflow_views`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q

from orders import billing, cancellation_runs, workflow
from orders.burn_panel import BURN_RELATED
from orders.lifecycle import (
    CANCELLED_STATUSES,
    REOPENABLE_STATUSES,
    RESOLVABLE_STATUSES,
    EventKind,
)
from orders.models import (
    CancellationRun,
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderEvent,
    OrderStatus,
)

DRIFT_LABELS = {
    "due_now": "Due now",
    "per_month": "Per month",
    "per_year": "Per year",
    "discount": "Discount",
    "valid": "Instantly accepts the order",
    "order_error": "Instantly's objection",
    "fingerprint": "Exact order contents (fingerprint)",
}
MONEY_FIELDS = frozenset({"due_now", "per_month", "per_year", "discount"})


@dataclass(frozen=True)
class DriftRow:
    label: str
    before: str
    after: str


def drift_rows(drift: dict[str, Any]) -> list[DriftRow]:
    rows = []
    for key, label in DRIFT_LABELS.items():
        pair = drift.get(key)
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        before, after = pair
        if key in MONEY_FIELDS:
            before, after = f"${Decimal(before):,.2f}", f"${Decimal(after):,.2f}"
        elif key == "fingerprint":
            before, after = str(before)[:12], str(after)[:12]
        elif key == "valid":
            before, after = ("yes" if before else "no"), ("yes" if after else "no")
        rows.append(DriftRow(label=label, before=str(before), after=str(after)))
    return rows


@dataclass(frozen=True)
class Progress:
    total: int = 0
    ready: int = 0
    provisioning: int = 0
    cancelled: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.ready / self.total) if self.total else 0


@dataclass(frozen=True)
class DomainChoice:
    domain: str
    mailboxes: list[Mailbox] = field(default_factory=list)


@dataclass(frozen=True)
class OrderPanel:
    order: Order
    progress: Progress
    is_live: bool
    may_decide: bool
    check: workflow.ApprovalCheck | None
    may_resolve: bool
    may_cancel: bool
    drift: list[DriftRow]
    refusal_lists: list[tuple[str, str]]
    invalid_accounts: list[dict[str, str]]
    cancellation_results: list[tuple[str, str]]
    cancel_choices: list[DomainChoice]
    # The latest cancellation run; a lead's page polls it until it ends.
    cancel_run: CancellationRun | None
    polls_cancel_run: bool


def progress_for(order: Order) -> Progress:
    counts = Mailbox.objects.filter(item__order=order).aggregate(
        total=Count("pk", filter=~Q(status=MailboxStatus.CANCELLED)),
        ready=Count("pk", filter=Q(status=MailboxStatus.READY)),
        provisioning=Count("pk", filter=Q(status=MailboxStatus.PROVISIONING)),
        cancelled=Count("pk", filter=Q(status=MailboxStatus.CANCELLED)),
    )
    return Progress(**counts)


def order_panel(*, order: Order, membership: Membership | None) -> OrderPanel:
    is_lead = membership is not None and membership.is_lead
    may_decide = is_lead and order.awaits_decision
    cancellations = cancellation_runs.cancellation_state(order)
    run = cancellations.latest
    running = run is not None and not run.is_finished
    # One cancellation at a time: the panel is back once the queued one has ended.
    may_cancel = is_lead and order.can_cancel() and not running
    refusal = order.refusal or {}
    lists = refusal.get("lists", {})
    return OrderPanel(
        order=order,
        progress=progress_for(order),
        is_live=order.is_live,
        may_decide=may_decide,
        check=workflow.approval_check(order=order, membership=membership)
        if may_decide
        else None,
        may_resolve=is_lead and order.status in RESOLVABLE_STATUSES,
        may_cancel=may_cancel,
        drift=drift_rows(order.drift),
        refusal_lists=[
            (name.replace("_", " ").capitalize(), ", ".join(str(v) for v in values))
            for name, values in (lists.items() if isinstance(lists, dict) else [])
        ],
        invalid_accounts=list(refusal.get("invalid_accounts", [])),
        cancellation_results=cancellations.results,
        cancel_choices=_cancel_choices(order) if may_cancel else [],
        cancel_run=run,
        # The poll is the cancel view's, which only leads may open.
        polls_cancel_run=is_lead and running,
    )


def rejection_notice(order: Order) -> OrderEvent | None:
    """The rejection an editable order is back with, until it is submitted again.

    Revising (rejected -> draft) and reopening move the status back to draft without ending
    what the rejection asked for, so those moves are skipped; any later submission or
    decision ends it."""
    if not order.is_editable or order.decided_at is None:
        return None  # never decided: no rejection, and no query for a fresh draft
    last = (
        order.events.exclude(to_status__in=["", OrderStatus.DRAFT])
        .exclude(to_status=F("from_status"))
        .select_related("actor")
        .order_by("-created_at", "-pk")
        .first()
    )
    return last if last is not None and last.kind == EventKind.REJECTED else None


def _cancel_choices(order: Order) -> list[DomainChoice]:
    choices: dict[str, DomainChoice] = {}
    for mailbox in (
        Mailbox.objects.filter(item__order=order)
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
        .order_by("item__position", "position", "pk")
    ):
        domain = mailbox.item.domain
        choices.setdefault(domain, DomainChoice(domain)).mailboxes.append(mailbox)
    return list(choices.values())


def detail_context(order: Order) -> dict[str, object]:
    bill = billing.order_bill(order)
    cost = None
    # Only cancellations change what an order costs a month.
    if bill is not None and order.status in CANCELLED_STATUSES:
        cost = billing.current_cost(bill, billing.live_mailboxes(order))
    return {
        "order": order,
        # Each delivered domain's burn panel reads its burn from this join (issue 16).
        "items": order.items.select_related(*BURN_RELATED).prefetch_related(
            "mailboxes"
        ),
        "burn_panels": True,
        "quote": order.approved_quote,
        "bill": bill,
        "bill_words": bill.charge_words(placed=order.placed_at is not None)
        if bill
        else "",
        "current_cost": cost,
        "renewal_words": billing.RENEWAL_WORDS,
        "events": order.events.select_related("actor"),
        "can_reopen": order.status in REOPENABLE_STATUSES,
    }
