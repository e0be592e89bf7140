"""The event timeline of generated orders: the OrderEvent rows the real workflow would have
written on the way to each order's status, at the times its timeline says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from orders.lifecycle import EventKind, OrderStatus, order_events_build
from orders.models import Order, OrderEvent


def order_events(
    orders: Sequence[Order], timelines: Sequence[dict[str, datetime]]
) -> list[OrderEvent]:
    """The events of each order, unsaved; `timelines` holds each order's step times."""
    rows: list[dict[str, Any]] = []

    def add(
        order: Order,
        when: datetime,
        kind: EventKind,
        before: str,
        after: str,
        by: Any = None,
        **detail: Any,
    ) -> None:
        rows.append(
            {
                "order": order,
                "actor": by,
                "kind": kind,
                "from_status": before,
                "to_status": after,
                "detail": detail,
                "created_at": when,
            }
        )

    S = OrderStatus
    for order, steps in zip(orders, timelines, strict=True):
        status = order.status
        add(order, steps["created"], EventKind.CREATED, "", S.DRAFT, order.requester)
        if "submitted" in steps:
            add(
                order,
                steps["submitted"],
                EventKind.SUBMITTED,
                S.DRAFT,
                S.PENDING_APPROVAL,
                order.requester,
            )
        if status == S.REJECTED:
            add(
                order,
                steps["decided"],
                EventKind.REJECTED,
                S.PENDING_APPROVAL,
                S.REJECTED,
                order.decided_by,
                comment=order.decision_comment,
            )
        elif "decided" in steps:
            add(
                order,
                steps["decided"],
                EventKind.APPROVED,
                S.PENDING_APPROVAL,
                S.APPROVED,
                order.approver,
            )
        if status == S.NEEDS_REAPPROVAL:
            add(
                order,
                steps["decided"],
                EventKind.REQUOTE_DRIFT,
                S.APPROVED,
                S.NEEDS_REAPPROVAL,
                drift=order.drift,
            )
        if "attempt" in steps:
            add(
                order,
                steps["attempt"],
                EventKind.CLAIMED,
                S.APPROVED,
                S.SUBMITTING,
                attempt=str(order.submission_attempt_id),
            )
        if status == S.FAILED:
            add(
                order,
                steps["attempt"],
                EventKind.FAILED,
                S.SUBMITTING,
                S.FAILED,
                **order.refusal,
            )
        if status in (S.UNKNOWN, S.NEEDS_ATTENTION):
            add(
                order,
                steps["attempt"],
                EventKind.OUTCOME_UNKNOWN,
                S.SUBMITTING,
                S.UNKNOWN,
                error="read timeout",
            )
        if status == S.NEEDS_ATTENTION:
            add(
                order,
                steps["attempt"] + timedelta(minutes=30),
                EventKind.NEEDS_ATTENTION,
                S.UNKNOWN,
                S.NEEDS_ATTENTION,
                reason=order.attention_reason,
            )
        if "placed" in steps:
            add(order, steps["placed"], EventKind.PLACED, S.SUBMITTING, S.PLACED)
        if status != S.PLACED and "provisioning" in steps:
            add(
                order,
                steps["provisioning"],
                EventKind.PROVISIONING,
                S.PLACED,
                S.PROVISIONING,
            )
        if "ready" in steps:
            add(order, steps["ready"], EventKind.READY, S.PROVISIONING, S.READY)
        if "cancelled" in steps:
            add(
                order,
                steps["cancelled"],
                EventKind.MAILBOXES_CANCELLED,
                S.READY,
                status,
                order.requester,
            )
    return order_events_build(rows)
